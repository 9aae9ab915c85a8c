"""Reward programs run as plain Python, for tests whose truth must not come from carverify.

A program is exec'd in a dict (no sandbox, no RestrictedPython, no numba, no carverify stage
code) and its checks are called on the suite's own frames; what they answer is compared with
the oracle's facts, which the suite's adapter records while it steps the real environment.
Only trusted sources go through here: the suites' reference programs and the authored
transcripts' replies, which are fixtures written by hand.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from carverify.episodes import expert_episodes, perturbed_episodes, random_episodes
from carverify.suite import load_suite


def run_source(source: str, filename: str, **overrides) -> dict:
    """The module namespace the source leaves behind; a syntax error is Python's own."""
    namespace: dict = {"__name__": "plain_program"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - trusted sources only, see above
    namespace.update(overrides)  # module constants are looked up at call time
    return namespace


def run_file(path: Path, **overrides) -> dict:
    return run_source(path.read_text(encoding="utf-8"), str(path), **overrides)


@functools.cache
def suite_episodes(name: str):
    """(suite, expert episodes, random episodes), simulated once per test process."""
    suite = load_suite(name)
    return suite, expert_episodes(suite), random_episodes(suite)


@functools.cache
def suite_perturbed(name: str):
    """The suite's perturbed episodes (expert until a sub-task's fact holds, then random)."""
    return perturbed_episodes(load_suite(name))


def forgiven(suite, episodes, fact: str) -> list[np.ndarray] | None:
    """Per episode, the frames the suite's goal tolerance leaves out for `fact` (DESIGN.md: under
    [thresholds] goal_tolerance_fact and not the goal, they count neither way); None if none."""
    tolerance = suite.thresholds.get("goal_tolerance_fact")
    if fact != suite.facts[-1] or not tolerance or not all(tolerance in ep.facts for ep in episodes):
        return None
    return [ep.facts[tolerance] & ~ep.facts[fact] for ep in episodes]


def answers(check, episodes) -> tuple[np.ndarray, ...]:
    """One bool array per episode: the check on every frame."""
    return tuple(np.array([check(frame) for frame in ep.frames], dtype=bool) for ep in episodes)


def disagreements(said: tuple[np.ndarray, ...], episodes, fact: str) -> list[tuple[str, int, int]]:
    """(policy, seed, frame) of every frame where the answers differ from the oracle's fact."""
    return [(ep.policy, ep.seed, int(t)) for values, ep in zip(said, episodes)
            for t in np.flatnonzero(values != ep.facts[fact])]


def trajectory_codes(suite, experts, randoms, subtasks, expert_vals: dict, random_vals: dict,
                     fact_of=None, perturbed=(), perturbed_vals=None) -> set[str]:
    """A plain reading of the CV5xx rules (DESIGN.md) over the answers of each check.

    subtasks: the program's checks in its order; expert_vals / random_vals: check -> answers
    per episode; fact_of: check -> the oracle fact it stands for (default: the same name);
    perturbed, perturbed_vals: perturbed episodes and answers, which count towards CV506 only
    (off the expert's path, e.g. a door closed again after unlocking).
    """
    fact_of = fact_of or {k: k for k in subtasks}
    got = set()
    for i, _ in enumerate(experts):
        firsts = []
        for k in subtasks:
            vals = expert_vals[k][i]
            if not vals.any():
                got.add("CV501")
            elif vals[0]:
                got.add("CV502")
            firsts.append(int(vals.argmax()) if vals.any() else None)
        done = [f for f in firsts if f is not None]
        if done != sorted(done):
            got.add("CV503")
    goal = subtasks[-1]
    for eps, vals in ((experts, expert_vals[goal]), (randoms, random_vals[goal])):
        for ep, v in zip(eps, vals):
            fired = set(np.nonzero(v)[0].tolist())
            if fired - {ep.success_step}:
                got.add("CV504")
            if ep.success and not v[ep.success_step]:
                got.add("CV505")
    for k in subtasks:
        if fact_of.get(k) not in suite.facts:
            continue
        extra = tuple(perturbed_vals[k]) if perturbed_vals else ()
        episodes = [*experts, *randoms, *(perturbed if extra else ())]
        pred = np.concatenate(tuple(expert_vals[k]) + tuple(random_vals[k]) + extra)
        truth = np.concatenate([ep.facts[fact_of[k]] for ep in episodes])
        left_out = forgiven(suite, episodes, fact_of[k])
        if left_out is not None:
            counted = ~np.concatenate(left_out)
            pred, truth = pred[counted], truth[counted]
        tp = np.count_nonzero(pred & truth)
        precision = tp / max(np.count_nonzero(pred), 1) if pred.any() else 1.0
        recall = tp / max(np.count_nonzero(truth), 1)
        if precision < suite.thresholds["min_precision"] or recall < suite.thresholds["min_recall"]:
            got.add("CV506")
    return got
