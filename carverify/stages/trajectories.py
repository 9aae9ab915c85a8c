"""The trajectories stage: do the checks agree with what expert, random and perturbed episodes show?

Expert episodes must complete every sub-task, in SUBTASKS order (strictly after the previous
one unless their facts coincide), none already true at reset.  Random and perturbed episodes
(expert play to a sub-task, then random actions) must fire the goal only when the environment
reports success.  With an oracle, per-frame precision/recall of each sub-task against its
own fact: a one-to-one, order-preserving assignment of SUBTASKS to the suite's facts.
"""
from __future__ import annotations

import hashlib
import math
import time

import numpy as np

from carverify.config import AuditConfig
from carverify.result import Finding, StageResult
from carverify.stages.common import RETURNS, dense_terms, finding
from carverify.stages.static import loaded_sandbox
from carverify.stages.facts import FINGERPRINT_METRIC, assign, conflicts, first_true, fingerprint, prf


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


def _seeds(eps) -> str:
    shown = ", ".join(str(ep.seed) for ep in eps[:5])
    return shown + (", …" if len(eps) > 5 else "")


def check_trajectories(candidate, suite, *, config: AuditConfig = AuditConfig()) -> StageResult:
    start = time.perf_counter()
    box, skip = loaded_sandbox(candidate, suite, config, "trajectories")
    if skip:
        return skip
    from carverify.episodes import expert_episodes, perturbed_episodes, random_episodes

    experts = expert_episodes(suite)
    # Random play joins with perturbed play: both are "not the expert" for every check below.
    randoms = random_episodes(suite) + perturbed_episodes(suite)
    frames, maps = _unique_frames(experts + randoms)
    subtasks = list(candidate.info.subtasks)
    dense = dense_terms(candidate)
    batch = box.call(subtasks + dense, frames, stop_on_error=True, returns=RETURNS)
    metrics = {"expert_episodes": float(len(experts)),
               "random_episodes": float(sum(ep.policy == "random" for ep in randoms)),
               "perturbed_episodes": float(sum(ep.policy != "random" for ep in randoms)),
               "unique_frames": float(len(frames)), "run_seconds": batch.wall_seconds}
    crash = [batch.dead] if batch.dead else [i for i in batch.issues.values() if i is not None]
    if crash:
        return StageResult("trajectories", "failed", [finding(i) for i in crash], metrics,
                           time.perf_counter() - start)
    values = {name: np.asarray(batch.values[name], bool) for name in subtasks}
    per_ep = [{name: values[name][m] for name in subtasks} for m in maps]
    line_of = candidate.info.functions
    assigned, oracle_findings = _oracle_findings(subtasks, experts + randoms, per_ep, suite, line_of, metrics)
    findings = _expert_findings(subtasks, experts, per_ep[:len(experts)], suite, line_of, metrics, assigned)
    findings += _goal_findings(subtasks[-1], experts + randoms, per_ep, line_of, metrics,
                               suite.thresholds.get("goal_tolerance_fact"))
    findings += oracle_findings
    for name in dense:
        progress = np.asarray(batch.values[name], np.float64)
        findings += _progress_findings(name, progress, maps, experts, randoms, suite, line_of, metrics)
    return StageResult("trajectories", "failed" if findings else "passed", findings, metrics,
                       time.perf_counter() - start,
                       skipped_checks=_skipped_checks(suite, perturbed=int(metrics["perturbed_episodes"])))


def _skipped_checks(suite, perturbed: int = 1) -> dict[str, str]:
    """What a suite without an oracle cannot check; the paper's checks (expert completion in
    order, the goal only with the environment's success) run all the same.  Also says when no
    perturbed play ran, since then only expert and random frames were judged."""
    out = {}
    if not perturbed:
        out["perturbed play"] = ("no perturbed episodes: suite.toml [episodes] perturbed_seeds is empty, or the "
                                 "demonstrations have no reset seed to replay them from")
    if suite.has_oracle:
        return out
    why = f"suite {suite.name} has no oracle (oracle.py): nothing labels the frames with the facts"
    return {**out, "oracle precision/recall": why, "one fact per sub-task": why,
            "sub-tasks completing on one frame": why + "; two sub-tasks may complete on one frame",
            "progress vs oracle measure": why}


def _expert_findings(subtasks, experts, per_ep, suite, line_of, metrics, assigned) -> list[Finding]:
    out = []
    n = len(experts)
    need = math.ceil(suite.thresholds["min_expert_completion"] * n)
    firsts = [{name: first_true(v[name]) for name in subtasks} for v in per_ep]
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
                 if f[earlier] is not None and f[later] is not None
                 and (f[later] < f[earlier] or (f[later] == f[earlier]
                                                and not _facts_coincide(ep, assigned, earlier, later)))]
        if wrong:
            ep, f = wrong[0]
            when = "before" if f[later] < f[earlier] else "on the same frame as"
            out.append(Finding("CV503", f"{later}: completed {when} {earlier} in {len(wrong)}/{n} expert episodes; "
                               f"first: seed {ep.seed}, {later} at frame {f[later]}, {earlier} at frame {f[earlier]}",
                               line_of.get(later), None, later,
                               "SUBTASKS lists sub-tasks in the order they are completed, each after the one "
                               "before it; two checks that fire together test the same thing",
                               {"seeds": [e.seed for e, _ in wrong]}))
    return out


def _facts_coincide(ep, assigned, earlier, later) -> bool:
    # Two sub-tasks may complete on one frame only where the simulator says their facts do
    # (unlocking a MiniGrid door also opens it).  Without an oracle nothing can be said: allowed.
    fa, fb = assigned.get(earlier), assigned.get(later)
    if fa is None or fb is None or fa not in ep.facts or fb not in ep.facts:
        return True
    return first_true(ep.facts[fa]) == first_true(ep.facts[fb])


def _goal_findings(goal, episodes, per_ep, line_of, metrics, tolerance_fact=None) -> list[Finding]:
    # tolerance_fact (suite.toml [thresholds] goal_tolerance_fact): an oracle fact under which
    # an early goal is forgiven, e.g. "object within 7 cm of the target" for pixel suites,
    # whose centroid estimates cannot match the environment's 5 cm test to the millimetre.
    false_fire, missed = [], []
    for ep, v in zip(episodes, per_ep):
        fired = v[goal]
        success = np.zeros(len(fired), bool)
        if ep.success_step is not None:
            success[ep.success_step:] = True
        if tolerance_fact is not None and tolerance_fact in ep.facts:
            success |= ep.facts[tolerance_fact]
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


def _oracle_findings(subtasks, episodes, per_ep, suite, line_of, metrics) -> tuple[dict, list[Finding]]:
    facts = tuple(suite.facts)
    if not facts or not all(f in ep.facts for ep in episodes for f in facts):
        return {}, []
    truth = {f: np.concatenate([ep.facts[f] for ep in episodes]).astype(bool) for f in facts}
    where = [(ep, t) for ep in episodes for t in range(len(ep.frames))]
    preds = {name: np.concatenate([v[name] for v in per_ep]) for name in subtasks}
    scores = {name: {f: prf(preds[name], truth[f]) for f in facts} for name in subtasks}
    assigned = assign(subtasks, facts, scores)
    metrics[FINGERPRINT_METRIC] = fingerprint(facts)
    out, failing = [], set()
    th = suite.thresholds
    for name in subtasks:
        if name not in assigned:
            continue
        fact = assigned[name]
        pred = preds[name]
        counted = np.ones(len(pred), bool)
        tolerance = th.get("goal_tolerance_fact")
        if fact == facts[-1] and tolerance is not None and all(tolerance in ep.facts for ep in episodes):
            # Pixel goal checks cannot match the environment's distance test to the millimetre:
            # frames inside the suite's tolerance band (and not a success) count neither way.
            counted = ~(np.concatenate([ep.facts[tolerance] for ep in episodes]).astype(bool) & ~truth[fact])
        precision, recall, f1 = prf(pred[counted], truth[fact][counted])
        metrics[f"{name}.oracle_fact"] = float(facts.index(fact))
        metrics[f"{name}.precision"], metrics[f"{name}.recall"], metrics[f"{name}.f1"] = precision, recall, f1
        if precision < th["min_precision"] or recall < th["min_recall"]:
            failing.add(name)
            fp = np.flatnonzero(pred & ~truth[fact] & counted)
            fn = np.flatnonzero(~pred & truth[fact])
            example = []
            if len(fp):
                ep, t = where[fp[0]]
                example.append(f"first false positive: {ep.policy} seed {ep.seed}, frame {t}")
            if len(fn):
                ep, t = where[fn[0]]
                example.append(f"first miss: {ep.policy} seed {ep.seed}, frame {t}")
            out.append(Finding(
                "CV506", f"{name} vs its oracle fact '{fact}': precision {precision:.2f}, recall {recall:.2f} "
                f"(need ≥ {th['min_precision']:.2f} / {th['min_recall']:.2f}) on {len(pred)} frames; "
                + "; ".join(example), line_of.get(name), None, name,
                f"{len(fp)} frames where the check holds but '{fact}' does not, {len(fn)} the other way",
                {"fact": fact, "precision": precision, "recall": recall, "f1": f1}))
    out += assignment_findings(subtasks, facts, scores, assigned, failing, line_of)
    return assigned, out


def assignment_findings(subtasks, facts, scores, assigned, failing, line_of) -> list[Finding]:
    """CV509: a failing check agrees better with a fact that another sub-task holds, or that the order rules out."""
    out = []
    for name, better, holder in conflicts(subtasks, facts, scores, assigned, failing):
        own = assigned[name]
        whose = (f"which is {holder}'s fact" if holder is not None
                 else "which SUBTASKS' order rules out for it")
        out.append(Finding(
            "CV509", f"{name} agrees best with the oracle fact '{better}' (F1 {scores[name][better].f1:.2f}), "
            f"{whose}; against its own fact '{own}' F1 is {scores[name][own].f1:.2f}",
            line_of.get(name), None, name,
            f"each sub-task is graded against its own fact, in SUBTASKS order ({', '.join(facts)}): "
            f"make {name} test '{own}', not '{better}' (was it copied from another check?)",
            {"fact": own, "better_fact": better, "holder": holder}))
    return out


def _progress_findings(name, progress, maps, experts, randoms, suite, line_of, metrics) -> list[Finding]:
    """progress(obs) is finite and in [0, 1] on every frame, and ranks expert frames like the oracle's measure."""
    episodes = experts + randoms
    bad = ~np.isfinite(progress) | (progress < 0.0) | (progress > 1.0)
    metrics[f"{name}.min"] = float(np.nanmin(progress)) if np.isfinite(progress).any() else float("nan")
    metrics[f"{name}.max"] = float(np.nanmax(progress)) if np.isfinite(progress).any() else float("nan")
    if bad.any():
        where = [(ep, int(np.flatnonzero(bad[m])[0])) for ep, m in zip(episodes, maps) if bad[m].any()]
        ep, t = where[0]
        value = progress[maps[episodes.index(ep)][t]]
        return [Finding("CV507", f"{name}: {value!r} on {ep.policy} seed {ep.seed}, frame {t}; out of [0, 1] or "
                        f"not finite on {int(bad.sum())}/{len(progress)} distinct frames", line_of.get(name), None,
                        name, "clip the result: float(np.clip(value, 0.0, 1.0)), and guard divisions",
                        {"frames": int(bad.sum()), "first": [ep.policy, ep.seed, t]})]
    measure = suite.config.get("progress_measure")
    if not measure or not all(measure in ep.measures for ep in experts):
        return []
    # Pooled over every expert frame: progress must order states as the measure does (a
    # distance: smaller is more progress), across episodes as well as within each.
    ours = np.concatenate([progress[m] for m in maps[:len(experts)]])
    truth = -np.concatenate([ep.measures[measure] for ep in experts])
    rho = _spearman(ours, truth)
    need = float(suite.thresholds.get("min_progress_spearman", 0.9))
    metrics[f"{name}.spearman"] = rho
    if rho >= need:
        return []
    return [Finding("CV508", f"{name}: Spearman rank correlation with the oracle's -{measure} is {rho:.2f} on "
                    f"{len(ours)} expert frames (need ≥ {need:.2f})", line_of.get(name), None, name,
                    f"progress should rise as the oracle's {measure} falls: e.g. 1 - {measure} / (its value at a "
                    "typical start), clipped to [0, 1]", {"spearman": rho, "frames": len(ours), "measure": measure})]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import rankdata

    ra, rb = rankdata(a), rankdata(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0  # a constant progress carries no information
    return float(np.corrcoef(ra, rb)[0, 1])
