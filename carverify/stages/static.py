"""The parse and policy stages: everything decidable without running the program."""
from __future__ import annotations

import time

import sandbox
from carverify.config import AuditConfig
from carverify.result import StageResult
from carverify.stages.common import finding, skipped


def check_parse(candidate, suite=None, *, config: AuditConfig = AuditConfig()) -> StageResult:
    start = time.perf_counter()
    tree, issues = sandbox.parse_source(candidate.source, config.limits)
    candidate.tree = tree
    status = "failed" if issues else "passed"
    metrics = {"source_bytes": float(len(candidate.source.encode("utf-8", "surrogateescape"))),
               "lines": float(candidate.source.count("\n") + 1)}
    return StageResult("parse", status, [finding(i) for i in issues], metrics, time.perf_counter() - start)


def check_policy(candidate, suite=None, *, config: AuditConfig = AuditConfig()) -> StageResult:
    if candidate.tree is None:
        if check_parse(candidate, suite, config=config).status != "passed":
            return skipped("policy", "the program does not parse")
    start = time.perf_counter()
    info, issues = sandbox.check_policy(candidate.tree)
    candidate.info = info
    metrics = {"violations": float(len(issues))}
    if info is not None:
        metrics.update(subtasks=float(len(info.subtasks)), functions=float(len(info.functions)))
    status = "failed" if issues else "passed"
    return StageResult("policy", status, [finding(i) for i in issues], metrics, time.perf_counter() - start)


def loaded_sandbox(candidate, suite, config, stage: str):
    """(the audit's loaded restricted child, None), or (None, a skipped result) when it cannot run."""
    if candidate.info is None and check_policy(candidate, suite, config=config).status != "passed":
        return None, skipped(stage, "the program did not pass the policy")
    box = candidate.sandbox(config.limits, config.pool)
    if not box.loaded.ok:
        return None, skipped(stage, "the program does not load")
    return box, None
