"""Hand-built audit reports that every renderer test reads."""
import pytest

from carverify.result import AuditReport, Finding, StageResult

SHA = "1234abcd" + "0" * 56


@pytest.fixture
def accepted():
    return AuditReport(
        program_path="program.py", program_sha256=SHA, suite="minigrid-doorkey-5x5",
        stages=[
            StageResult("parse", "passed", metrics={"bytes": 812.0}, seconds=0.001),
            StageResult("policy", "passed", metrics={"nodes": 143, "calls": 12}, seconds=0.004),
            StageResult("restricted", "passed", metrics={"ms_per_call": 1.23456}, seconds=0.31),
            StageResult("compile", "passed", seconds=0.52),
        ],
        limits={"timeout_s": 10, "memory_mb": 512}, seconds=0.8412,
    )


@pytest.fixture
def rejected():
    return AuditReport(
        program_path="program.py", program_sha256=SHA, suite="minigrid-doorkey-5x5",
        stages=[
            StageResult("parse", "passed", metrics={"bytes": 812.0}, seconds=0.001),
            StageResult("policy", "failed", findings=[
                Finding("CV203", "attribute 'tofile' is not allowed on arrays", line=12, col=4,
                        hint="allowed: shape, ndim, size, astype"),
                Finding("CV206", "sub-task function 'at_goal' is missing", subtask="at_goal",
                        hint="define def at_goal(obs): ..."),
            ], seconds=0.004),
            StageResult("trajectories", "failed", findings=[
                Finding("CV501", "door_open: completed in 17/20 expert episodes (need 20/20); "
                        "first missed: seed 4, frame 9", line=7, col=0, subtask="door_open",
                        data={"completed": 17, "episodes": 20}),
            ], metrics={"expert_episodes": 20, "precision": float("nan")}, seconds=0.42),
            StageResult("compile", "skipped"),
        ],
        limits={"timeout_s": 10}, seconds=0.8412,
    )


@pytest.fixture
def errored():
    return AuditReport(
        program_path="program.py", program_sha256=SHA, suite="minigrid-doorkey-5x5",
        stages=[
            StageResult("parse", "passed", seconds=0.001),
            StageResult("restricted", "error", findings=[
                Finding("CV306", "sandbox child was killed by signal 9 before it started")],
                seconds=2.0),
        ],
        seconds=2.0,
    )
