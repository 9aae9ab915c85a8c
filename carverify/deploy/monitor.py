"""The runtime monitor: verification goes on during training, on the states the agent visits.

Two comparisons, both on results the reward path already has (no extra check calls):

- **goal vs success.**  The first time in an episode the goal sub-task (the last of
  SUBTASKS) holds, the environment must report success on that step (MiniGrid: it
  terminates with a positive reward; Panda: info["is_success"]).  With the suite's
  `goal_tolerance_fact` (pixel suites), a goal within that tolerance is forgiven, as the
  audit forgives it.  The other way round, a success step on which the goal does not
  hold (and was not paid before) is counted too.
- **oracle facts**, for suites with an oracle: each *newly seen* state (a memo miss,
  so each distinct state once) is compared, sub-task by sub-task, with the oracle fact
  the audit assigned to it (the trajectories stage's `<subtask>.oracle_fact`).

The monitor counts; CodeReward decides what a disagreement does (--monitor warn|stop).
"""
from __future__ import annotations

from dataclasses import dataclass

from carverify.errors import UsageError
from carverify.stages.facts import FINGERPRINT_METRIC, fingerprint

MODES = ("warn", "stop", "off")
GOAL_WITHOUT_SUCCESS, SUCCESS_WITHOUT_GOAL, ORACLE = "goal_without_success", "success_without_goal", "oracle"


@dataclass(frozen=True)
class Disagreement:
    kind: str                 # GOAL_WITHOUT_SUCCESS, SUCCESS_WITHOUT_GOAL or ORACLE
    subtask: str
    message: str              # one line
    fact: str | None = None


def oracle_assignment(report: dict, suite) -> dict[str, str]:
    """Sub-task -> oracle fact, as the audit's trajectories stage assigned them ({} without an oracle).

    The stage records `<subtask>.oracle_fact` as an index into suite.facts (every fact the
    oracle names; subtask_facts for a suite that lists no more), and a fingerprint of that
    list: a report made before a fact was added would otherwise point at the wrong facts and
    the monitor would warn (or stop training) on a correct program.  Reports older than the
    fingerprint are read by index.
    """
    facts = tuple(getattr(suite, "facts", ()) or getattr(suite, "subtask_facts", ()) or ())
    metrics = {}
    for stage in report.get("stages", []):
        if stage.get("stage") == "trajectories":
            metrics = stage.get("metrics", {})
    stored = metrics.get(FINGERPRINT_METRIC)
    if stored is not None and stored != fingerprint(facts):
        raise UsageError(f"the audit report grades the sub-tasks against another version of suite "
                         f"{getattr(suite, 'name', '?')!r}'s oracle facts: audit the program again")
    out = {}
    for key, value in metrics.items():
        if key.endswith(".oracle_fact") and isinstance(value, (int, float)) and 0 <= int(value) < len(facts):
            out[key[:-len(".oracle_fact")]] = facts[int(value)]
    return out


class Monitor:
    """Counts disagreements between a program's checks and the environment (and its oracle)."""

    def __init__(self, suite, subtasks: tuple[str, ...], assignment: dict[str, str]):
        self.suite = suite
        self.subtasks = tuple(subtasks)
        self.goal = self.subtasks[-1] if self.subtasks else None
        self.assignment = {k: v for k, v in assignment.items() if k in self.subtasks}
        self.tolerance_fact = suite.thresholds.get("goal_tolerance_fact") if hasattr(suite, "thresholds") else None
        self._oracle = None
        self.counts = {"monitor.goal_fired": 0, "monitor.goal_without_success": 0,
                       "monitor.success_without_goal": 0, "monitor.states_checked": 0,
                       "monitor.oracle_disagreements": 0}
        self.by_subtask = dict.fromkeys(self.assignment, 0)
        self._goal_seen = False

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_oracle"] = None   # a module's function: the copy loads its own
        return state

    def reset(self) -> None:
        self._goal_seen = False

    def facts(self, env) -> dict:
        if self._oracle is None:
            self._oracle = self.suite.oracle()
        return self._oracle(env)

    def observe(self, env, holds: tuple[bool, ...], *, new_state: bool, success: bool,
                goal_paid: bool) -> list[Disagreement]:
        out: list[Disagreement] = []
        facts = None
        if new_state and self.assignment:
            facts = self.facts(env)
            self.counts["monitor.states_checked"] += 1
            for i, name in enumerate(self.subtasks):
                fact = self.assignment.get(name)
                if fact is None or fact not in facts or bool(facts[fact]) == holds[i]:
                    continue
                self.counts["monitor.oracle_disagreements"] += 1
                self.by_subtask[name] += 1
                out.append(Disagreement(ORACLE, name, f"{name}(obs) is {holds[i]} on a newly seen state where the "
                                        f"oracle's '{fact}' is {bool(facts[fact])}", fact))
        if self.goal is None:
            return out
        goal = holds[-1]
        if goal and not self._goal_seen:
            self._goal_seen = True
            self.counts["monitor.goal_fired"] += 1
            if not success and not self._forgiven(env, facts):
                self.counts["monitor.goal_without_success"] += 1
                out.append(Disagreement(GOAL_WITHOUT_SUCCESS, self.goal, f"the goal {self.goal}(obs) holds but the "
                                        "environment reports no success"))
        if success and not goal and not goal_paid:
            self.counts["monitor.success_without_goal"] += 1
            out.append(Disagreement(SUCCESS_WITHOUT_GOAL, self.goal, f"the environment reports success but the goal "
                                    f"{self.goal}(obs) does not hold"))
        return out

    def _forgiven(self, env, facts) -> bool:
        if not self.tolerance_fact:
            return False
        facts = facts if facts is not None else self.facts(env)
        return bool(facts.get(self.tolerance_fact, False))

    def stats(self) -> dict[str, float]:
        out = {k: float(v) for k, v in self.counts.items()}
        out.update({f"monitor.oracle_disagreements.{k}": float(v) for k, v in self.by_subtask.items()})
        return out
