"""The end-of-session check that tests leave the checkout alone (tests/conftest.py) can fail."""
import shutil
import subprocess
import sys
from pathlib import Path

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


# A test that writes into its checkout, and one that writes only under its tmp dir.
_INTO_CHECKOUT = '''
from pathlib import Path

def test_writes(tmp_path):
    out = Path(__file__).resolve().parents[1] / ".carverify-cache" / "counterexamples" / "x.npy"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"x")
'''
_INTO_TMP = '''
def test_writes(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"x")
'''


def _session_in_a_checkout(tmp_path, test_source: str, *options: str) -> subprocess.CompletedProcess:
    """This project's conftest.py in a git checkout of its own, running one test."""
    here = Path(__file__).parent
    (tmp_path / "tests").mkdir()
    for name in ("conftest.py", "checkout_state.py"):
        shutil.copy(here / name, tmp_path / "tests" / name)
    (tmp_path / "tests" / "test_one.py").write_text(test_source)
    (tmp_path / ".gitignore").write_text((here.parent / ".gitignore").read_text())
    git = lambda *args: subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", *options, "-p", "no:cacheprovider", "-p", "no:randomly",
                           "tests"], cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_a_session_whose_test_writes_into_the_checkout_fails(tmp_path):
    # Under xdist as in CI: a worker writes, the controller's check must see it.
    run = _session_in_a_checkout(tmp_path, _INTO_CHECKOUT, "-n", "2")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed" in run.stdout   # the test itself passed: the session check failed it
    assert "tests changed the checkout" in run.stdout
    assert "created: .carverify-cache/counterexamples/x.npy" in run.stdout


def test_a_session_that_writes_only_under_its_tmp_dir_passes(tmp_path):
    # The same session without the stray write passes: the failure above is the write's.
    run = _session_in_a_checkout(tmp_path, _INTO_TMP)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tests changed the checkout" not in run.stdout
