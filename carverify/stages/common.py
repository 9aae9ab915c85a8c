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


def subtask_lines(candidate) -> dict[str, int]:
    return dict(candidate.info.functions) if candidate.info else {}
