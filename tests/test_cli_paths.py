"""User paths of the CLI that nothing else runs: an empty folder, an audit that breaks (exit 3),
Ctrl-C (exit 130), training with subprocess envs and --stop-at, and `carverify demo`."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proc_tree import children_of

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "examples" / "good_vectorized.py"
SUITE = "minigrid-doorkey-5x5"


def carverify(*args, cwd, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "carverify.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)


def test_audit_of_a_folder_without_programs_is_a_one_line_usage_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no programs here")
    out = carverify("audit", tmp_path, "--suite", SUITE, "--no-track", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"carverify: error: no .py files in {tmp_path}"]
    assert out.stdout == ""


def test_an_audit_that_breaks_reports_error_and_exits_3(tmp_path):
    """A user suite whose environment id names no registered environment: the program cannot
    be judged, so the verdict is error (exit 3), not rejected, and the JSON report says so."""
    suite = tmp_path / "suites" / "minigrid-broken"
    shutil.copytree(ROOT / "suites" / SUITE, suite)
    toml = (suite / "suite.toml").read_text(encoding="utf-8")
    for old, new in ((f'name = "{SUITE}"', 'name = "minigrid-broken"'),
                     ('env_id = "MiniGrid-DoorKey-5x5-v0"', 'env_id = "MiniGrid-NoSuchEnv-v0"')):
        assert old in toml
        toml = toml.replace(old, new)
    (suite / "suite.toml").write_text(toml, encoding="utf-8")
    out = carverify("audit", GOOD, "--suite", "minigrid-broken", "--stages", "parse", "policy", "restricted",
                    "--no-track", "--json", tmp_path / "r.json", cwd=tmp_path,
                    env={"CARVERIFY_SUITES": str(tmp_path / "suites")})
    assert out.returncode == 3, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("ERROR ")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "error" and len(report["reports"]) == 1
    assert [s["status"] for s in report["reports"][0]["stages"]] == ["passed", "passed", "error"]


def test_ctrl_c_exits_130_without_a_traceback(tmp_path):
    """SIGINT while the audit waits on its sandbox child: one line, exit 130, the child gone."""
    proc = subprocess.Popen([sys.executable, "-m", "carverify.cli", "audit", str(GOOD), "--suite", SUITE,
                             "--no-track"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300   # a generous backstop: the child starts within seconds
        while not children_of(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        children = children_of(proc.pid)
        assert children, "the audit never started a sandbox child"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "carverify: interrupted", stderr
    gone = time.monotonic() + 10
    while any(Path(f"/proc/{c}").exists() and "zombie" not in _state(c) for c in children) \
            and time.monotonic() < gone:
        time.sleep(0.1)
    assert not [c for c in children if Path(f"/proc/{c}").exists() and "zombie" not in _state(c)]


def _state(pid: int) -> str:
    try:
        return next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                    if line.startswith("State:"))
    except (OSError, StopIteration):
        return "zombie (gone)"


@pytest.mark.long
def test_train_with_subprocess_envs_stops_at_the_target(tmp_path):
    """--vec-env subproc with a sparse run (whose envs have no program) and --stop-at 0: the
    first evaluation meets the target, so the run stops long before --steps."""
    out = carverify("train", "--suite", SUITE, "--reward", "sparse", "--steps", 4096, "--seeds", 0,
                    "--vec-env", "subproc", "--eval-every", 1024, "--eval-episodes", 2, "--stop-at", 0.0,
                    "--no-track", "--no-progress", "--out", tmp_path / "runs", cwd=tmp_path, timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    row = next(line.split() for line in out.stdout.splitlines() if line.startswith("sparse "))
    assert int(row[3]) < 4096, out.stdout
    curves = json.loads((tmp_path / "runs" / SUITE / "sparse" / "curves.json").read_text())
    assert curves, "no curves written"


@pytest.mark.long
def test_demo_runs_end_to_end_offline(tmp_path):
    out = carverify("demo", "--no-track", "--steps", 1024, "--out", tmp_path / "demo", cwd=tmp_path, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    for section in ("1. Audit 6 example programs", "Demo finished in"):
        assert section in out.stdout, out.stdout[-3000:]
    assert any((tmp_path / "demo").rglob("*.py")), "the demo kept no generated program"
