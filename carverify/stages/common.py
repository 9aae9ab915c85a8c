"""Small pieces every stage uses: timing and Issue -> Finding conversion."""
from __future__ import annotations

import time
from contextlib import contextmanager

from carverify.result import Finding, StageResult


def finding(issue, **extra) -> Finding:
    return Finding(code=issue.code, message=issue.message, line=issue.line, col=issue.col,
                   subtask=issue.subtask, hint=issue.hint, data=extra)


def skipped(stage: str, why: str) -> StageResult:
    return StageResult(stage, "skipped", metrics={}, findings=[], seconds=0.0)


@contextmanager
def timed():
    box = {"start": time.perf_counter()}
    yield box
    box["seconds"] = time.perf_counter() - box["start"]


# The optional dense term of the program contract: progress(obs) -> float in [0, 1].
PROGRESS = "progress"
RETURNS = {PROGRESS: "float"}  # the sandbox's per-function return kind (others: truth values)


def dense_terms(candidate) -> list[str]:
    """["progress"] when the program defines progress(obs) besides its sub-task checks, else []."""
    info = candidate.info
    if info is None or PROGRESS not in info.functions or PROGRESS in info.subtasks:
        return []
    return [PROGRESS]
