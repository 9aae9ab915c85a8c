"""Verdicts do not depend on machine load (issue 11).

Five correct programs (on DoorKey-5x5; two DoorKey-8x8 ones more in make test-long) are
audited on the machine as it is, then again while two busy-loop processes (`python -c
"while True: pass"`, started and killed here) compete for the CPUs.  Limits count CPU
time and the wall clock is only a backstop, so the verdicts
and finding codes must be identical, and every program accepted both times.  Before
the limits counted CPU time, programs flipped between accepted and CV601 ("did not
finish compiling within 25 s") across identical runs on a loaded machine.

The stages are those whose limits the sandbox owns (through compile); each audit starts
from a cold in-process compile cache, so the loaded run really compiles and times again.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carverify.result import Finding, StageResult

REPO = Path(__file__).resolve().parents[1]
STAGES = ("parse", "policy", "restricted", "properties", "trajectories", "compile")
# (program, suite): reference programs the suites' manifests accept, and correct-corpus styles
# that lean on numba's helpers (axis reductions, tuple comparisons, masks).
PROGRAMS = (
    ("suites/minigrid-doorkey-5x5/programs/tile_probes.py", "minigrid-doorkey-5x5"),
    ("suites/minigrid-doorkey-5x5/programs/shape_loops.py", "minigrid-doorkey-5x5"),
    ("tests/corpus/correct/model_idioms.py", "minigrid-doorkey-5x5"),
    ("tests/corpus/correct/reductions.py", "minigrid-doorkey-5x5"),
    ("tests/corpus/correct/vectorized_masks.py", "minigrid-doorkey-5x5"),
)
# The same references on DoorKey-8x8 (longer episodes, more frames) for make test-long:
# CI's run of five with these two in it took 182 s of its 30-minute budget.
MORE_PROGRAMS = (
    ("suites/minigrid-doorkey-8x8/programs/tile_probes.py", "minigrid-doorkey-8x8"),
    ("suites/minigrid-doorkey-8x8/programs/shape_loops.py", "minigrid-doorkey-8x8"),
)
HOGS = 2


def _audit_all(programs) -> dict[str, tuple[str, list[str], float]]:
    from carverify.audit import audit_file
    from carverify.stages import compile as compile_stage

    out = {}
    for path, suite in programs:
        compile_stage.clear_cache()   # measure and compile afresh, never reuse the quiet run's result
        start = time.monotonic()
        report = audit_file(REPO / path, suite, stages=STAGES)
        out[path] = (report.verdict, sorted(f.code for f in report.findings), time.monotonic() - start,
                     [f.render() for f in report.findings])
    return out


def _start_hogs() -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(HOGS)]


def _stop(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        try:
            os.killpg(hog.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        hog.wait()


def _cpu_busy(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.parametrize("programs", [pytest.param(PROGRAMS, id="ci"),
                                      pytest.param(MORE_PROGRAMS, id="more", marks=pytest.mark.long)])
def test_correct_programs_get_the_same_verdict_with_two_cpu_hogs(tmp_path, monkeypatch, programs):
    monkeypatch.chdir(tmp_path)
    quiet = _audit_all(programs)
    hogs = _start_hogs()
    try:
        time.sleep(0.5)
        loaded = _audit_all(programs)
        # The hogs really ran the whole time (a test that never loaded the machine proves nothing).
        assert all(hog.poll() is None for hog in hogs)
        assert min(_cpu_busy(hog.pid) for hog in hogs) > 0.3 * sum(t for _, _, t, _ in loaded.values())
    finally:
        _stop(hogs)
    summary = "\n".join(f"{p}: quiet {quiet[p][0]} {quiet[p][1]} {quiet[p][2]:.1f}s {quiet[p][3]} | "
                        f"loaded {loaded[p][0]} {loaded[p][1]} {loaded[p][2]:.1f}s {loaded[p][3]}"
                        for p, _ in programs)
    for path, _ in programs:
        assert quiet[path][:2] == loaded[path][:2], summary
        assert quiet[path][0] == "accepted", summary


def test_a_stage_with_only_a_backstop_finding_is_an_error_not_a_rejection():
    backstop = Finding("CV604", "sandbox child reached its 180 s wall-clock backstop ...: not judged")
    assert StageResult("restricted", "failed", [backstop]).status == "error"
    # A real finding beside it stands: that rejection does not depend on the machine.
    crash = Finding("CV301", "has_key(obs) raised IndexError")
    assert StageResult("restricted", "failed", [crash, backstop]).status == "failed"
    assert StageResult("restricted", "failed", [crash]).status == "failed"


def test_an_audit_whose_child_is_starved_is_an_error_with_exit_3(monkeypatch):
    """End to end: a child that never gets to run hits the backstop; the verdict is "error" (exit 3)."""
    from carverify.audit import audit_file
    from carverify.config import AuditConfig
    from carverify.distributed import exit_code
    from sandbox import Limits, runner

    # The child's Python reads its first request and then sits still: no CPU, no reply, as a
    # child the machine never schedules.  (A real program cannot do this: it cannot sleep.)
    monkeypatch.setattr(runner, "_BOOT", "import sys, time; sys.stdin.readline(); time.sleep(600)")
    report = audit_file(REPO / "suites/minigrid-doorkey-5x5/programs/tile_probes.py", "minigrid-doorkey-5x5",
                        stages=("parse", "policy", "restricted"),
                        config=AuditConfig(limits=Limits(wall_seconds=2.0)))
    stage = report.stage("restricted")
    assert stage.status == "error" and [f.code for f in stage.findings] == ["CV604"], stage
    assert report.verdict == "error" and exit_code([report]) == 3
