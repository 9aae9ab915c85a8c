"""The coverage stage: the compiled checks on every coverage state, against the oracle and the interpreter.

MiniGrid suites cover every reachable abstract state of K layouts; continuous suites a
stated spread of set states (carverify/coverage.py).  Each sub-task is graded against its
own fact (carverify/stages/facts.py) with precision and recall ≥ 0.99, the goal may never
fire where the environment reports no success, and the compiled code, which is what
training runs, must agree with the interpreted program on every state where any check
changes value plus a stated sample of the rest.  A compiled crash or timeout on any state
is a payload the episodes never showed.
"""
from __future__ import annotations

import re
import sys
import time
from dataclasses import replace

import numpy as np

from carverify.config import AuditConfig
from carverify.result import Finding, StageResult
from carverify.stages.common import RETURNS, dense_terms, finding, skipped
from carverify.stages.compile import _same  # one rule for "the same output" in both stages
from carverify.stages.facts import assign, conflicts, prf

DEFAULT_MIN = 0.99
CHUNK = 4096                 # frames per request: bounds the child's memory, not its work
INTERPRETED_SAMPLE = 1000    # states compared with the interpreter besides every changing one
SAMPLE_SEED = 7
EXAMPLES = 3                 # disagreeing states described per finding
_FRAME = re.compile(r"on frame (\d+)")

PAYLOAD_HINT = ("the compiled check failed on a reachable state the episodes never showed; whatever the "
                "cause (an index off the frame, a division by zero, an unbounded loop), training would meet it")


def check_coverage(candidate, suite, *, config: AuditConfig = AuditConfig()) -> StageResult:
    from carverify.stages.static import check_policy

    if candidate.info is None and check_policy(candidate, suite, config=config).status != "passed":
        return skipped("coverage", "the program did not pass the policy")
    start = time.perf_counter()
    from carverify.coverage import coverage_states

    if not suite.has_oracle or not suite.adapter.coverage_blocks(suite):
        why = (f"suite {suite.name} has no oracle to label coverage states" if not suite.has_oracle else
               f"the {suite.kind} adapter cannot set, enumerate or sample states of {suite.env_id}")
        return StageResult("coverage", "skipped", skipped_checks={"every reachable state": why})
    cov = coverage_states(suite, progress=_status(suite))
    subtasks = list(candidate.info.subtasks)
    dense = dense_terms(candidate)
    names = subtasks + dense
    lines = candidate.info.functions
    metrics = {"states": float(len(cov)), "layouts": float(cov.summary["layouts"]),
               "transitions": float(cov.summary["transitions"])}

    box = candidate.native(config.limits, config.pool)
    if not box.loaded.ok:
        return StageResult("coverage", "failed", [finding(i) for i in box.loaded.issues], metrics,
                           time.perf_counter() - start)
    # The interpreter's child boots (Python, numpy, RestrictedPython) while the compiled run goes on.
    with _interpreter(candidate, config) as interpreter:
        return _check(suite, cov, box, interpreter, names, subtasks, dense, lines, metrics, start)


def _interpreter(candidate, config):
    """A fresh restricted child: the audit's own has spent part of its CPU allowance already,
    and the comparison's cost scales with the suite, not with the program.  Started before the
    compiled run, its wall-clock backstop also spans that run (the whole stage took 17 s at load 12 on
    DoorKey-8x8's 16,750 states), far inside the 240 s."""
    from sandbox import Sandbox

    limits = replace(config.limits, wall_seconds=max(config.limits.wall_seconds, 240.0))
    return Sandbox(candidate.source, limits, pool=None)


def _check(suite, cov, box, interpreter, names, subtasks, dense, lines, metrics, start):
    """The stage once both children exist: compiled run, oracle, goal, progress range, interpreter."""
    compiled, dead, failures = _run_all(box, names, cov)
    metrics["compiled_seconds"] = time.perf_counter() - start
    if dead is not None:
        # The wall-clock backstop (CV604) means the machine, not the program, ran out: not a verdict.
        status = "error" if dead.data.get("child_code") == "CV604" else "failed"
        return StageResult("coverage", status, [dead], metrics, time.perf_counter() - start)
    findings = [_payload(name, i, issue, cov, lines) for name, (i, issue) in failures.items()]
    if findings:
        return StageResult("coverage", "failed", findings, metrics, time.perf_counter() - start)

    truth_findings, assigned = _against_oracle(subtasks, compiled, cov, suite, lines, metrics)
    findings += truth_findings
    findings += _goal_without_success(subtasks[-1], compiled, cov, suite, lines, metrics)
    for name in dense:
        findings += _progress_range(name, compiled[name], cov, lines)
    # A check already rejected against its fact (CV801) may be wrong on thousands of states:
    # comparing them all would only add interpreter time (and risk the wall-clock backstop).
    # A passing check is wrong on at most 1% of them.
    rejected = {f.subtask for f in truth_findings if f.code == "CV801"}
    passing = {n: fact for n, fact in assigned.items() if n not in rejected}
    findings += _against_interpreter(interpreter, names, compiled, cov, lines, metrics, passing)
    metrics["seconds"] = time.perf_counter() - start
    if any(f.code == "CV604" for f in findings):
        return StageResult("coverage", "error", [f for f in findings if f.code == "CV604"], metrics,
                           time.perf_counter() - start)
    # The text report shows a stage's first metric: the number of states is the headline.
    return StageResult("coverage", "failed" if findings else "passed", findings, metrics,
                       time.perf_counter() - start)


def _status(suite):
    # Building a suite's coverage set takes up to a minute once; say so rather than sit silent.
    def report(done: int, total: int, what: str) -> None:
        if sys.stderr.isatty():
            print(f"\rcarverify: building coverage states for {suite.name}: {what} ({done + 1}/{total})…",
                  end="", file=sys.stderr, flush=True)
    return report


def _run_all(box, names, cov):
    """Compiled values per check over all states: (values, a death finding or None, first failure per check)."""
    values = {n: np.empty(len(cov), dtype=object) for n in names}
    failures: dict[str, tuple[int, object]] = {}
    for first, frames in cov.chunks(CHUNK):
        batch = box.call(names, frames, stop_on_error=False, returns=RETURNS)
        if batch.dead is not None:
            match = _FRAME.search(batch.dead.message)
            i = first + int(match.group(1)) if match else None
            return values, _death(batch.dead, i, cov), failures
        for n in names:
            values[n][first:first + len(frames)] = batch.values[n]
            issue = batch.issues.get(n)
            if issue is not None and n not in failures:
                failures[n] = (first + (batch.frames.get(n) or 0), issue)
    return values, None, failures


def _death(issue, i, cov) -> Finding:
    where = f" on coverage state {i} ({cov.describe(i)})" if i is not None else ""
    message = re.sub(r" on frame \d+", "", issue.message)
    return Finding("CV803", f"compiled run: {message}{where}", issue.line, issue.col, issue.subtask,
                   PAYLOAD_HINT, {"state": i, "child_code": issue.code,
                                  "state_description": cov.describe(i) if i is not None else None})


def _payload(name, i, issue, cov, lines) -> Finding:
    return Finding("CV803", f"{name}: the compiled check failed on coverage state {i} ({cov.describe(i)}): "
                   f"{issue.message}", issue.line or lines.get(name), issue.col, name, PAYLOAD_HINT,
                   {"state": i, "state_description": cov.describe(i), "child_code": issue.code})


def _thresholds(suite) -> tuple[float, float]:
    cfg = suite.config.get("coverage", {})
    return float(cfg.get("min_precision", DEFAULT_MIN)), float(cfg.get("min_recall", DEFAULT_MIN))


def _against_oracle(subtasks, compiled, cov, suite, lines, metrics) -> tuple[list[Finding], dict]:
    facts = tuple(f for f in suite.facts if f in cov.facts)
    if not facts:
        return [], {}
    preds = {n: compiled[n].astype(bool) for n in subtasks}
    # States no frame can settle for a fact (an identical frame shows the other value) do not
    # count for that fact; how many there were is reported.
    counted = {f: ~cov.ambiguous.get(f, np.zeros(len(cov), bool)) for f in facts}
    scores = {n: {f: prf(preds[n][counted[f]], cov.facts[f][counted[f]]) for f in facts} for n in subtasks}
    assigned = assign(subtasks, facts, scores)
    need_p, need_r = _thresholds(suite)
    out, failing = [], set()
    for name in subtasks:
        fact = assigned.get(name)
        if fact is None:
            continue
        keep = counted[fact]
        pred, truth = preds[name], cov.facts[fact]
        precision, recall, _ = scores[name][fact]
        metrics[f"{name}.precision"], metrics[f"{name}.recall"] = precision, recall
        metrics[f"{name}.ambiguous_states"] = float((~keep).sum())
        if precision >= need_p and recall >= need_r:
            continue
        failing.add(name)
        fp = np.flatnonzero(pred & ~truth & keep)
        fn = np.flatnonzero(~pred & truth & keep)
        shown = [f"true where '{fact}' is false: {cov.describe(i)}" for i in fp[:EXAMPLES]]
        shown += [f"false where '{fact}' holds: {cov.describe(i)}" for i in fn[:EXAMPLES]]
        out.append(Finding(
            "CV801", f"{name} vs its oracle fact '{fact}' on {int(keep.sum())} reachable states: precision "
            f"{precision:.3f}, recall {recall:.3f} (need ≥ {need_p:.2f} / {need_r:.2f}); wrong on {len(fp)} states "
            f"where it holds and {len(fn)} where it misses; e.g. {_first_example(cov, fp, fn)}",
            lines.get(name), None, name,
            "the check must be right in every reachable state, not only along the expert's path",
            {"fact": fact, "precision": precision, "recall": recall, "false_positives": int(len(fp)),
             "misses": int(len(fn)), "examples": shown}))
    from carverify.stages.trajectories import assignment_findings

    out += [replace(f, message=f.message + " on the coverage states")
            for f in assignment_findings(subtasks, facts, scores, assigned, failing, lines)]
    return out, assigned


def _first_example(cov, fp, fn) -> str:
    if len(fp):
        return f"true in state {int(fp[0])}: {cov.describe(int(fp[0]))}"
    return f"false in state {int(fn[0])}: {cov.describe(int(fn[0]))}"


def _goal_without_success(goal, compiled, cov, suite, lines, metrics) -> list[Finding]:
    # Precision 0.99 would let a goal check pay on one state in a hundred; an agent finds that
    # state and farms it.  The goal may fire only where the environment itself succeeds
    # (or within the suite's stated tolerance fact, for pixel estimates of a distance).
    fired = compiled[goal].astype(bool)
    allowed = cov.success.copy()
    tolerance = suite.thresholds.get("goal_tolerance_fact")
    if tolerance is not None and tolerance in cov.facts:
        allowed |= cov.facts[tolerance]
    for fact, ambiguous in cov.ambiguous.items():
        if suite.facts and fact == suite.facts[-1]:
            allowed |= ambiguous
    bad = np.flatnonzero(fired & ~allowed)
    metrics[f"{goal}.false_goal_states"] = float(len(bad))
    if not len(bad):
        return []
    shown = [cov.describe(int(i)) for i in bad[:EXAMPLES]]
    return [Finding("CV804", f"{goal}: the goal fires on {len(bad)} reachable states where the environment reports "
                    f"no success; e.g. state {int(bad[0])}: {shown[0]}", lines.get(goal), None, goal,
                    "the last sub-task pays the task bonus: an agent will find and farm any state where it fires early",
                    {"states": int(len(bad)), "examples": shown})]


def _progress_range(name, values, cov, lines) -> list[Finding]:
    v = values.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(v) | (v < 0.0) | (v > 1.0))
    if not len(bad):
        return []
    i = int(bad[0])
    return [Finding("CV805", f"{name}: {v[i]!r} on coverage state {i} ({cov.describe(i)}); out of [0, 1] or not "
                    f"finite on {len(bad)} reachable states", lines.get(name), None, name,
                    "clip the result: float(np.clip(value, 0.0, 1.0)), and guard divisions",
                    {"states": int(len(bad)), "first": i})]


def compared_states(names, compiled, cov, sample: int = INTERPRETED_SAMPLE, assigned=None) -> np.ndarray:
    """Every state at either end of a transition where some check changes value, every state
    where a compiled check disagrees with its own fact, plus a seeded sample.

    A check that agrees with the interpreter on both sides of every change and on a sample of
    the plateaus between them agrees everywhere, unless a payload hides inside a plateau; the
    oracle comparison above already covers every state for the truth values themselves.  The
    states a compiled check gets wrong are few for a program that passes, and they are where a
    compiled-only difference shows when it sits on a plateau (a key dropped in the far column
    that only numba's wrapped int64 stops seeing: nothing changes value as it is dropped).
    """
    chosen = np.zeros(len(cov), bool)
    for name, fact in (assigned or {}).items():
        if fact in cov.facts and name in compiled:
            chosen |= compiled[name].astype(bool) != cov.facts[fact]
    if len(cov.edges):
        a, b = cov.edges[:, 0], cov.edges[:, 1]
        for n in names:
            v = compiled[n]
            changed = v[a] != v[b]
            chosen[a[changed]] = True
            chosen[b[changed]] = True
    rest = np.flatnonzero(~chosen)
    if len(rest) <= sample:
        chosen[rest] = True
    else:
        rng = np.random.default_rng(SAMPLE_SEED)
        chosen[rng.choice(rest, size=sample, replace=False)] = True
    return np.flatnonzero(chosen)


def _against_interpreter(box, names, compiled, cov, lines, metrics, assigned=None) -> list[Finding]:
    idx = compared_states(names, compiled, cov, assigned=assigned)
    metrics["interpreted_states"] = float(len(idx))
    frames = cov.frames_at(idx)
    start = time.perf_counter()
    load = box.load()
    if not load.ok:
        return [finding(i) for i in load.issues]
    out = []
    for first in range(0, len(idx), CHUNK):
        batch = box.call(names, frames[first:first + CHUNK], stop_on_error=False, returns=RETURNS)
        if batch.dead is not None:
            match = _FRAME.search(batch.dead.message)
            i = int(idx[first + int(match.group(1))]) if match else None
            out.append(_interpreted_death(batch.dead, i, cov))
            break
        for n in names:
            theirs = batch.values[n]
            ours = compiled[n][idx[first:first + len(theirs)]]
            diff = [k for k in range(len(theirs)) if not _same(ours[k], theirs[k])]
            if diff:
                i = int(idx[first + diff[0]])
                out.append(Finding(
                    "CV802", f"{n}: compiled and interpreted results differ on {len(diff)} compared coverage "
                    f"states (first: state {i}: compiled {ours[diff[0]]}, interpreted {theirs[diff[0]]}; "
                    f"{cov.describe(i)})", lines.get(n), None, n,
                    "training runs the compiled code: write the check so that numba and Python compute the "
                    "same thing (see the README's list of Python/numba differences)",
                    {"state": i, "differing": len(diff), "state_description": cov.describe(i)}))
    metrics["interpreted_seconds"] = time.perf_counter() - start
    # Report each check once, at its first difference.
    seen, unique = set(), []
    for f in out:
        if f.subtask not in seen:
            seen.add(f.subtask)
            unique.append(f)
    return unique


def _interpreted_death(issue, i, cov) -> Finding:
    where = f" on coverage state {i} ({cov.describe(i)})" if i is not None else ""
    return Finding(issue.code, f"interpreted run on coverage states: {re.sub(r' on frame [0-9]+', '', issue.message)}"
                   f"{where}", issue.line, issue.col, issue.subtask, issue.hint,
                   {"state": i, "state_description": cov.describe(i) if i is not None else None})

