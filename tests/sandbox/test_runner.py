"""The child process boundary: limits, deaths, cleanup.  A dead child is a finding, never a crash."""
import os
import subprocess
import sys
import time
import textwrap

import numpy as np
import pytest

from sandbox import Limits, Sandbox, SandboxPool
from sandbox import runner

FRAMES = np.zeros((4, 40, 40, 3), np.uint8)
PROGRAM = 'import numpy as np\nSUBTASKS = ("a",)\ndef a(obs):\n{body}\n'


def prog(body: str) -> str:
    return PROGRAM.format(body=textwrap.indent(textwrap.dedent(body), "    "))


def children_of_me():
    me, kids = os.getpid(), set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        kids.add(int(pid))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def run(source, limits=Limits(call_seconds=0.5), frames=FRAMES):
    with Sandbox(source, limits) as box:
        load = box.load()
        if not load.ok:
            return load.issues[0]
        batch = box.call(["a"], frames)
        return batch.dead or batch.issues["a"]


def test_correct_program_runs():
    with Sandbox(prog("return bool(obs.sum() == 0)")) as box:
        assert box.load().ok
        batch = box.call(["a"], FRAMES)
    assert batch.values == {"a": [True] * 4} and batch.dead is None


def test_infinite_loop_times_out_within_limit():
    start = time.monotonic()
    issue = run(prog("while True:\n    pass\nreturn True"))
    assert issue.code == "CV302" and issue.subtask == "a"
    assert "frame 0" in issue.message
    assert time.monotonic() - start < 0.5 + 3


def test_huge_integer_in_c_is_stopped():
    start = time.monotonic()
    issue = run(prog("x = 10 ** 10 ** 10\nreturn True"))
    assert issue.code in ("CV302", "CV308")
    assert time.monotonic() - start < 0.5 + runner._GRACE + 3


def test_memory_limit():
    issue = run(prog("x = np.ones(10 ** 10)\nreturn True"))
    assert issue.code == "CV303"


def test_input_write_is_caught():
    issue = run(prog("obs[0, 0, 0] = 7\nreturn True"))
    assert issue.code == "CV305"


def test_non_bool_return():
    issue = run(prog("return 1"))
    assert issue.code == "CV304" and issue.message.startswith("a(obs) returned int 1, not a truth value")


@pytest.mark.parametrize("boot,code", [
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "CV306"),
    ("import sys; sys.exit(0)", "CV307"),
    ("import sys; sys.stdin.readline(); sys.exit(3)", "CV306"),
    ("import sys, time; sys.stdin.readline(); time.sleep(60)", "CV302"),
])
def test_dead_or_silent_child_is_a_finding(monkeypatch, boot, code):
    monkeypatch.setattr(runner, "_BOOT", boot)
    limits = Limits(load_seconds=0.5, wall_seconds=3)
    start = time.monotonic()
    with Sandbox(prog("return True"), limits) as box:
        load = box.load()
    assert not load.ok and load.issues[0].code == code, load.issues
    assert time.monotonic() - start < limits.wall_seconds + 5


def test_wall_clock_limit_kills_a_slow_batch():
    limits = Limits(call_seconds=0.3, wall_seconds=2)
    frames = np.zeros((100, 40, 40, 3), np.uint8)
    slow = prog("t = 0\nfor i in range(400000):\n    t += i\nreturn t > 0")
    start = time.monotonic()
    issue = run(slow, limits, frames)
    assert issue.code == "CV302" and "wall-clock" in issue.message
    assert time.monotonic() - start < limits.wall_seconds + 5


def test_no_process_left_behind():
    before = children_of_me()
    run(prog("while True:\n    pass\nreturn True"))
    run(prog("return True"))
    assert children_of_me() - before == set()


def test_pool_prestarts_and_cleans_up():
    before = children_of_me()
    with SandboxPool() as pool:
        with Sandbox(prog("return True"), pool=pool) as box:
            assert box.load().ok
        assert len(children_of_me() - before) == 1  # the replacement, idle
    assert children_of_me() - before == set()


def test_child_env_holds_no_secrets(monkeypatch):
    monkeypatch.setenv("CARVERIFY_TEST_SECRET", "s3cr3t")
    assert "CARVERIFY_TEST_SECRET" not in runner._child_env()
    assert "s3cr3t" not in repr(runner._child_env())


def test_limits_drop_privileges_and_forbid_fork(tmp_path):
    code = textwrap.dedent("""
        import os, sys
        from sandbox.child import apply_limits
        from sandbox.limits import Limits
        apply_limits(Limits(), "restricted")
        try:
            os.fork()
            print("forked")
        except OSError:
            print("nofork")
        try:
            open("x", "w").write("data")
            print("wrote")
        except OSError:
            print("nowrite")
        print(os.getuid())
    """)
    env = {**runner._child_env(), "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=30)
    lines = out.stdout.split()
    assert lines[0] == "nofork" and lines[1] == "nowrite", out
    if os.geteuid() == 0:
        assert lines[2] == "65534"
    assert not (tmp_path / "x").exists() or (tmp_path / "x").stat().st_size == 0


@pytest.mark.parametrize("stderr,detail", [
    # faulthandler's report ends with the loaded modules: its headline says more
    ("Fatal Python error: Segmentation fault\n\nCurrent thread 0x00007f (most recent call first):\n"
     '  File "/x.py", line 3 in f\n\nExtension modules: numpy._core, numba (total: 40)\n',
     ": Fatal Python error: Segmentation fault"),
    # an exception printed just before the crash says the most
    ("Traceback (most recent call last):\n  File \"a.py\", line 1\nValueError: operands could not be broadcast\n"
     "corrupted double-linked list\nFatal Python error: Aborted\n\nExtension modules: numpy (total: 3)\n",
     ": ValueError: operands could not be broadcast"),
    ("plain last words\n", ": plain last words"),
    ("", ""),
])
def test_a_dead_childs_stderr_is_summed_up_by_its_telling_line(stderr, detail):
    from sandbox.runner import _crash_detail
    assert _crash_detail(stderr) == detail
