"""The trajectories stage: do the checks agree with what expert and random episodes show?

Expert episodes must complete every sub-task, in SUBTASKS order, none already true
at reset.  Random episodes (horizon matched to the expert) must fire the goal only
when the environment reports success.  With an oracle, per-frame precision/recall
per sub-task against the simulator fact it agrees with best.
"""
from __future__ import annotations

import hashlib
import math
import time

import numpy as np

from carverify.config import AuditConfig
from carverify.result import Finding, StageResult
from carverify.stages.common import finding, skipped
from carverify.stages.static import check_policy


def _unique_frames(episodes):
    """Every distinct frame once, plus per-episode index arrays into that stack."""
    seen: dict[bytes, int] = {}
    stack, maps = [], []
    for ep in episodes:
        idx = np.empty(len(ep.frames), np.int64)
        for t, frame in enumerate(ep.frames):
            key = hashlib.blake2b(frame.tobytes(), digest_size=16).digest()
            if key not in seen:
                seen[key] = len(stack)
                stack.append(frame)
            idx[t] = seen[key]
        maps.append(idx)
    return np.stack(stack), maps


def _first_true(values: np.ndarray) -> int | None:
    hits = np.flatnonzero(values)
    return int(hits[0]) if len(hits) else None


def _seeds(eps) -> str:
    shown = ", ".join(str(ep.seed) for ep in eps[:5])
    return shown + (", …" if len(eps) > 5 else "")


def check_trajectories(candidate, suite, *, config: AuditConfig = AuditConfig()) -> StageResult:
    if candidate.info is None:
        if check_policy(candidate, suite, config=config).status != "passed":
            return skipped("trajectories", "the program did not pass the policy")
    from carverify.episodes import expert_episodes, random_episodes

    start = time.perf_counter()
    box = candidate.sandbox(config.limits, config.pool)
    if not box.loaded.ok:
        return skipped("trajectories", "the program does not load")
    experts, randoms = expert_episodes(suite), random_episodes(suite)
    frames, maps = _unique_frames(experts + randoms)
    subtasks = list(candidate.info.subtasks)
    batch = box.call(subtasks, frames, stop_on_error=True)
    metrics = {"expert_episodes": float(len(experts)), "random_episodes": float(len(randoms)),
               "unique_frames": float(len(frames)), "run_seconds": batch.wall_seconds}
    crash = [batch.dead] if batch.dead else [i for i in batch.issues.values() if i is not None]
    if crash:
        return StageResult("trajectories", "failed", [finding(i) for i in crash], metrics,
                           time.perf_counter() - start)
    values = {name: np.asarray(batch.values[name], bool) for name in subtasks}
    per_ep = [{name: values[name][m] for name in subtasks} for m in maps]
    line_of = candidate.info.functions
    findings = _expert_findings(subtasks, experts, per_ep[:len(experts)], suite, line_of, metrics)
    findings += _goal_findings(subtasks[-1], experts + randoms, per_ep, line_of, metrics)
    findings += _oracle_findings(subtasks, experts + randoms, per_ep, suite, line_of, metrics)
    return StageResult("trajectories", "failed" if findings else "passed", findings, metrics,
                       time.perf_counter() - start)


def _expert_findings(subtasks, experts, per_ep, suite, line_of, metrics) -> list[Finding]:
    out = []
    n = len(experts)
    need = math.ceil(suite.thresholds["min_expert_completion"] * n)
    firsts = [{name: _first_true(v[name]) for name in subtasks} for v in per_ep]
    for name in subtasks:
        at_reset = [ep for ep, v in zip(experts, per_ep) if v[name][0]]
        done = [ep for ep, f in zip(experts, firsts) if f[name] is not None]
        missed = [ep for ep, f in zip(experts, firsts) if f[name] is None]
        metrics[f"{name}.expert_completion"] = len(done) / n if n else 0.0
        if at_reset:
            out.append(Finding("CV502", f"{name}: already true at reset in {len(at_reset)}/{n} expert episodes "
                               f"(seeds {_seeds(at_reset)})", line_of.get(name), None, name,
                               "a sub-task check must be false before the agent has done anything",
                               {"seeds": [ep.seed for ep in at_reset]}))
        if len(done) < need:
            out.append(Finding("CV501", f"{name}: completed in {len(done)}/{n} expert episodes "
                               f"(need {need}/{n}); first miss: seed {missed[0].seed}",
                               line_of.get(name), None, name,
                               "the expert solves the task every time, so a correct check fires in every episode",
                               {"seeds": [ep.seed for ep in missed]}))
    for earlier, later in zip(subtasks, subtasks[1:]):
        wrong = [(ep, f) for ep, f in zip(experts, firsts)
                 if f[earlier] is not None and f[later] is not None and f[later] < f[earlier]]
        if wrong:
            ep, f = wrong[0]
            out.append(Finding("CV503", f"{later}: completed before {earlier} in {len(wrong)}/{n} expert episodes; "
                               f"first: seed {ep.seed}, {later} at frame {f[later]}, {earlier} at frame {f[earlier]}",
                               line_of.get(later), None, later,
                               "SUBTASKS lists sub-tasks in the order they are completed",
                               {"seeds": [e.seed for e, _ in wrong]}))
    return out


def _goal_findings(goal, episodes, per_ep, line_of, metrics) -> list[Finding]:
    false_fire, missed = [], []
    for ep, v in zip(episodes, per_ep):
        fired = v[goal]
        success = np.zeros(len(fired), bool)
        if ep.success_step is not None:
            success[ep.success_step:] = True
        bad = np.flatnonzero(fired & ~success)
        if len(bad):
            false_fire.append((ep, int(bad[0])))
        if ep.success_step is not None and not fired[ep.success_step]:
            missed.append(ep)
    metrics[f"{goal}.false_goal_episodes"] = float(len(false_fire))
    out = []
    if false_fire:
        ep, t = false_fire[0]
        kinds = sorted({e.policy for e, _ in false_fire})
        out.append(Finding("CV504", f"{goal}: fires without the environment's success in {len(false_fire)}/"
                           f"{len(episodes)} episodes ({' and '.join(kinds)}); first: {ep.policy} seed {ep.seed}, "
                           f"frame {t}", line_of.get(goal), None, goal,
                           "the last sub-task is the task goal: it may only hold once the environment reports success",
                           {"episodes": [[e.policy, e.seed, f] for e, f in false_fire]}))
    if missed:
        ep = missed[0]
        out.append(Finding("CV505", f"{goal}: false on the environment's success frame in {len(missed)} "
                           f"episodes; first: {ep.policy} seed {ep.seed}, frame {ep.success_step}",
                           line_of.get(goal), None, goal, None,
                           {"episodes": [[e.policy, e.seed] for e in missed]}))
    return out


def _oracle_findings(subtasks, episodes, per_ep, suite, line_of, metrics) -> list[Finding]:
    facts = tuple(suite.subtask_facts)
    if not facts or not all(f in ep.facts for ep in episodes for f in facts):
        return []
    truth = {f: np.concatenate([ep.facts[f] for ep in episodes]).astype(bool) for f in facts}
    where = [(ep, t) for ep in episodes for t in range(len(ep.frames))]
    out = []
    th = suite.thresholds
    for name in subtasks:
        pred = np.concatenate([v[name] for v in per_ep])
        scores = {f: _prf(pred, truth[f]) for f in facts}
        best = max(facts, key=lambda f: (scores[f][2], f == name))
        precision, recall, f1 = scores[best]
        metrics[f"{name}.oracle_fact"] = float(facts.index(best))
        metrics[f"{name}.precision"], metrics[f"{name}.recall"], metrics[f"{name}.f1"] = precision, recall, f1
        if precision < th["min_precision"] or recall < th["min_recall"]:
            fp = np.flatnonzero(pred & ~truth[best])
            fn = np.flatnonzero(~pred & truth[best])
            example = []
            if len(fp):
                ep, t = where[fp[0]]
                example.append(f"first false positive: {ep.policy} seed {ep.seed}, frame {t}")
            if len(fn):
                ep, t = where[fn[0]]
                example.append(f"first miss: {ep.policy} seed {ep.seed}, frame {t}")
            out.append(Finding(
                "CV506", f"{name} vs oracle '{best}': precision {precision:.2f}, recall {recall:.2f} "
                f"(need ≥ {th['min_precision']:.2f} / {th['min_recall']:.2f}) on {len(pred)} frames; "
                + "; ".join(example), line_of.get(name), None, name,
                f"{len(fp)} frames where the check holds but '{best}' does not, {len(fn)} the other way",
                {"fact": best, "precision": precision, "recall": recall, "f1": f1}))
    return out


def _prf(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.count_nonzero(pred & truth))
    fp = float(np.count_nonzero(pred & ~truth))
    fn = float(np.count_nonzero(~pred & truth))
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
