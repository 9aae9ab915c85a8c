"""The restricted stage: run every sub-task check on real suite frames inside the sandbox."""
from __future__ import annotations

import time

from carverify.config import AuditConfig
from carverify.result import StageResult
from carverify.stages.common import RETURNS, dense_terms, finding, skipped
from carverify.stages.static import check_policy


_FRAMES: dict = {}


def frames_for(suite, max_frames: int):
    """Suite frames, loaded from the disk cache once per process."""
    from carverify.episodes import cache_key, suite_frames

    key = (suite.name, str(suite.path), max_frames, cache_key(suite))   # an edited suite or env: afresh
    if key not in _FRAMES:
        _FRAMES[key] = suite_frames(suite, max_frames=max_frames)
    return _FRAMES[key]


def check_restricted(candidate, suite, *, config: AuditConfig = AuditConfig()) -> StageResult:
    if candidate.info is None:
        if check_policy(candidate, suite, config=config).status != "passed":
            return skipped("restricted", "the program did not pass the policy")
    start = time.perf_counter()
    frames = frames_for(suite, config.max_suite_frames)
    box = candidate.sandbox(config.limits, config.pool)
    load = box.loaded
    if not load.ok:
        return StageResult("restricted", "failed", [finding(i) for i in load.issues],
                           {"load_seconds": load.seconds}, time.perf_counter() - start)
    subtasks = list(candidate.info.subtasks) + dense_terms(candidate)
    batch = box.call(subtasks, frames, stop_on_error=True, returns=RETURNS)
    findings = []
    if batch.dead is not None:
        findings.append(finding(batch.dead))
    for name in subtasks:
        issue = batch.issues.get(name)
        if issue is not None:
            line = issue.line or candidate.info.functions.get(name)
            findings.append(finding(issue._replace(line=line), frame=batch.frames[name]))
        elif batch.dead is None:
            candidate.suite_values[name] = batch.values[name]
    calls = sum(len(v) for v in batch.values.values())
    per_call = {f"{n}.mean_ms": 1e3 * batch.seconds[n] / max(len(batch.values[n]), 1)
                for n in subtasks if n in batch.seconds}
    metrics = {"frames": float(len(frames)), "calls": float(calls), "load_seconds": load.seconds,
               "run_seconds": batch.wall_seconds,
               "program_seconds": float(sum(batch.seconds.values())) if batch.seconds else 0.0, **per_call}
    status = "failed" if findings else "passed"
    return StageResult("restricted", status, findings, metrics, time.perf_counter() - start)
