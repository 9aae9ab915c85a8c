"""Run the audit stages in order and gather one AuditReport."""
from __future__ import annotations

import importlib
import importlib.util
import time
from dataclasses import replace
from pathlib import Path

from carverify.candidate import Candidate
from carverify.config import STAGES, AuditConfig
from carverify.errors import UsageError
from carverify.result import AuditReport, StageResult

# Stage name -> module holding check_<name>; imported on use so that a partial
# audit never pays for hypothesis or numba.
_STAGE_MODULES = {
    "parse": "carverify.stages.static",
    "policy": "carverify.stages.static",
    "restricted": "carverify.stages.restricted",
    "properties": "carverify.stages.properties",
    "trajectories": "carverify.stages.trajectories",
    "compile": "carverify.stages.compile",
    "coverage": "carverify.stages.coverage",
}


def available_stages() -> tuple[str, ...]:
    return tuple(s for s in STAGES if importlib.util.find_spec(_STAGE_MODULES[s]) is not None)


# Stages that use the compiled twin, which is then compiled while the interpreted stages run.
_NATIVE_STAGES = {"properties", "compile", "coverage"}


def stage_function(name: str):
    if name not in _STAGE_MODULES:
        raise UsageError(f"unknown stage '{name}' — known: {', '.join(STAGES)}")
    return getattr(importlib.import_module(_STAGE_MODULES[name]), f"check_{name}")


def audit_source(source: str, suite, *, path: str = "program.py", stages=None,
                 config: AuditConfig | None = None) -> AuditReport:
    """Audit one program against one suite; a later stage runs only if every earlier one passed."""
    from carverify.suite import load_suite

    from carverify.cachedir import keep_scratch_in_cache

    keep_scratch_in_cache()
    config = config or AuditConfig()
    suite = load_suite(suite) if isinstance(suite, str) else suite
    stages = tuple(stages) if stages else available_stages()
    for name in stages:
        stage_function(name)  # unknown names fail before any work
    start = time.perf_counter()
    candidate = Candidate(source, path)
    results: list[StageResult] = []
    # A stage may leave part of its work to run after the next stage (properties: the compiled
    # comparison, which waits for numba).  If that next stage rejects the program the part is
    # dropped and said so; otherwise it runs before anything later, so a stage still runs only
    # if every earlier one passed.
    pending: list[tuple[int, object, dict]] = []
    candidate.defer = lambda stage, finish, abandoned: pending.append((len(results), finish, abandoned))
    try:
        for name in stages:
            if any(r.status in ("failed", "error", "skipped") for r in results):
                results.append(StageResult(name, "skipped"))
                continue
            results.append(_run_stage(name, candidate, suite, config))
            if name == "policy" and results[-1].status == "passed" and _NATIVE_STAGES & set(stages):
                from carverify.stages.compile import prefetch_twin
                prefetch_twin(candidate, suite, config)
            _settle(pending, results, rejected=results[-1].status in ("failed", "error"), before=len(results) - 1)
        _settle(pending, results, rejected=False, before=len(results))
    finally:
        candidate.close()
    # Saved counterexamples travel with the report (MLflow logs them as artifacts).
    artifacts = {f"counterexamples/{f.subtask}-{f.code}": f.data["counterexample"]
                 for r in results for f in r.findings if "counterexample" in f.data}
    return AuditReport(program_path=path, program_sha256=candidate.sha256, suite=suite.name,
                       stages=results, limits=config.limits.to_dict(), seconds=time.perf_counter() - start,
                       artifacts=artifacts)


def _run_stage(name: str, candidate, suite, config) -> StageResult:
    try:
        return stage_function(name)(candidate, suite, config=config)
    except Exception as exc:  # noqa: BLE001 - a broken stage is an error, never a verdict
        return _internal_error(name, exc)


def _internal_error(name: str, exc: Exception) -> StageResult:
    from carverify.result import Finding

    return StageResult(name, "error", [Finding("CV000", f"internal error in stage {name}: "
                                               f"{type(exc).__name__}: {exc}")])


def _settle(pending: list, results: list[StageResult], *, rejected: bool, before: int) -> None:
    """Finish (or, after a rejection, drop) the deferred work of stages before index `before`."""
    while pending and pending[0][0] < before:
        index, finish, abandoned = pending.pop(0)
        if rejected:
            results[index] = replace(results[index], skipped_checks={**results[index].skipped_checks, **abandoned})
            continue
        try:
            results[index] = finish()
        except Exception as exc:  # noqa: BLE001
            results[index] = _internal_error(results[index].stage, exc)


def audit_file(path: str | Path, suite, **kwargs) -> AuditReport:
    path = Path(path)
    raw = read_program(path, (kwargs.get("config") or AuditConfig()).limits)
    # Undecodable bytes survive as surrogates so the parse stage can report CV104.
    source = raw.decode("utf-8", "surrogateescape")
    return audit_source(source, suite, path=str(path), **kwargs)


def read_program(path: str | Path, limits=None) -> bytes:
    """The program's bytes, at most one past the size cap (the parse stage rejects more); UsageError if unreadable."""
    import sandbox

    try:
        return sandbox.read_source(path, limits or AuditConfig().limits)
    except sandbox.UnreadableSource as exc:
        raise UsageError(str(exc)) from None
