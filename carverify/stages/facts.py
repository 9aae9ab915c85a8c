"""One oracle fact per sub-task: an order-preserving, one-to-one assignment, shared by the
trajectories and coverage stages.

A check is graded against the fact it stands for, never against "whichever fact it agrees
with best": a door_open check copied from has_key agrees perfectly with has_key, and the old
rule graded it against that and passed it.
"""
from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

# Report metric: which list of facts the `<subtask>.oracle_fact` indices point into.
FINGERPRINT_METRIC = "oracle_facts.fingerprint"


def fingerprint(facts) -> float:
    """The suite's fact names, in order, as a float a report's metrics can hold exactly
    (52 bits of their sha256): a fact added or moved changes every later index."""
    digest = hashlib.sha256("\n".join(facts).encode()).hexdigest()
    return float(int(digest[:13], 16))


class Score(NamedTuple):
    precision: float
    recall: float
    f1: float


def prf(pred: np.ndarray, truth: np.ndarray) -> Score:
    tp = float(np.count_nonzero(pred & truth))
    fp = float(np.count_nonzero(pred & ~truth))
    fn = float(np.count_nonzero(~pred & truth))
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(precision, recall, f1)


def assign(subtasks: list[str], facts: tuple[str, ...], scores: dict[str, dict[str, Score]],
           pin: bool = True) -> dict[str, str]:
    """sub-task -> fact, strictly increasing in the suite's fact order, maximising the summed F1.

    The last sub-task is the task goal and always takes the last fact; a sub-task named like
    a fact takes that fact (when SUBTASKS' order allows it).  Ties prefer a fact
    named like the sub-task, then the earlier fact.  With more sub-tasks than facts, the
    surplus sub-tasks get no fact (and are graded by the paper's checks only).
    """
    n, m = len(subtasks), len(facts)
    if n == 0 or m == 0:
        return {}
    if n > m:
        # Keep the goal; the extra middle sub-tasks cannot be assigned one to one.
        head = assign(subtasks[:m - 1] + [subtasks[-1]], facts, scores, pin) if m > 1 else {}
        return head or {subtasks[-1]: facts[-1]}

    def gain(i: int, j: int) -> float:
        # A sub-task named exactly like a fact stands for that fact: a "door_open" check that
        # really tests "door unlocked" must be graded as door_open, not re-read as door_unlocked.
        if pin and subtasks[i] in facts and facts[j] != subtasks[i] and i != n - 1:
            return float("-inf")
        s = scores[subtasks[i]][facts[j]]
        return s.f1 + (1e-6 if facts[j] == subtasks[i] else 0.0) - 1e-9 * j

    # best[i][j]: the best total for sub-tasks i.. using facts j.. (the goal pinned to the last fact).
    neg = float("-inf")
    best = [[neg] * (m + 1) for _ in range(n + 1)]
    take = [[False] * (m + 1) for _ in range(n + 1)]
    best[n][m] = 0.0
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            skip = best[i][j + 1]
            if i == n - 1:
                use = gain(i, j) if j == m - 1 else neg
            else:
                g = gain(i, j)
                use = g + best[i + 1][j + 1] if best[i + 1][j + 1] > neg and g > neg else neg
            take[i][j] = use >= skip and use > neg
            best[i][j] = max(use, skip)
    if best[0][0] == neg:
        # The names fit no order (SUBTASKS lists them out of order: CV503 says so); grade by agreement.
        return assign(subtasks, facts, scores, pin=False) if pin else {}
    out, i, j = {}, 0, 0
    while i < n and j < m:
        if take[i][j]:
            out[subtasks[i]] = facts[j]
            i += 1
        j += 1
    return out


def conflicts(subtasks, facts, scores, assigned, failing: set[str]) -> list[tuple[str, str, str | None]]:
    """For each failing sub-task that agrees better with a fact it could not take:
    (sub-task, that fact, the sub-task holding it, or None when the order rules it out)."""
    holder = {f: s for s, f in assigned.items()}
    out = []
    for name in subtasks:
        if name not in failing or name not in assigned:
            continue
        own = scores[name][assigned[name]].f1
        best = max(facts, key=lambda f: (scores[name][f].f1, f == name))
        if best != assigned[name] and scores[name][best].f1 > own + 0.05:
            out.append((name, best, holder.get(best)))
    return out


def first_true(values: np.ndarray) -> int | None:
    hits = np.flatnonzero(values)
    return int(hits[0]) if len(hits) else None
