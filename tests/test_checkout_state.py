"""The end-of-session check that tests leave the checkout alone (tests/conftest.py) can fail."""
import subprocess

from checkout_state import changes, checkout_state


def test_checkout_state_sees_every_kind_of_change(tmp_path):
    run = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / ".gitignore").write_text(".carverify-cache/\nmlruns.db\n.hypothesis/\n")
    (tmp_path / "tracked.py").write_text("x = 1\n")
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    (tmp_path / ".hypothesis").mkdir()
    (tmp_path / ".hypothesis" / "old").write_text("kept")
    before = checkout_state(tmp_path)
    assert changes(before, checkout_state(tmp_path)) == []

    (tmp_path / "tracked.py").write_text("x = 2\n")
    (tmp_path / "new.txt").write_text("untracked")
    (tmp_path / ".carverify-cache" / "counterexamples").mkdir(parents=True)
    (tmp_path / ".carverify-cache" / "counterexamples" / "a.npy").write_bytes(b"\x93NUMPY")
    (tmp_path / "mlruns.db").write_bytes(b"")
    (tmp_path / ".hypothesis" / "old").unlink()
    found = changes(before, checkout_state(tmp_path))
    assert found == ["git status gained:  M tracked.py", "git status gained: ?? new.txt",
                     "created: .carverify-cache/counterexamples/a.npy", "removed: .hypothesis/old",
                     "created: mlruns.db"], found


def test_outside_a_checkout_there_is_nothing_to_compare(tmp_path):
    assert checkout_state(tmp_path) is None
