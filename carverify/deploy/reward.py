"""CodeReward: the one reward wrapper for every suite family, on the guarded reward path.

    env = CodeReward(suite.make_env(), suite, source, "program.py.report.json")

Pays `bonus` the first time each sub-task check holds in an episode (ordered=True: in
SUBTASKS order; several may be paid on one step; with goal_needs_success, the last only on a
step where the environment reports success), plus, with progress_weight > 0 and a
program defining progress(obs), potential-based shaping progress_weight * (gamma *
progress(s') - progress(s)), with a terminal state's potential 0 (Ng et al., 1999).

The wrapper refuses a program whose audit did not accept it, whose source changed since
the audit, or that was audited against another suite.  It carries only the source and
what it needs of the report, never compiled code, so it pickles to a SubprocVecEnv
worker; the checks run in this process's reward worker (carverify/deploy/guard.py),
started on first use.

Per step, in this order: nothing left to pay (and no progress term) -> no render, no call;
a state seen before (the adapter's exact-state memo, e.g. MiniGrid's, shared by the process's envs) -> its
remembered results; otherwise render, one guarded call, the monitor on the new state.

info["subtasks"]: name -> paid so far this episode; info["subtask_completed"]: names paid
at this step; info["env_reward"]: the environment's own reward; info["reward_fault"]: on a
step whose call faulted; info["monitor"]: on a step with disagreements.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from carverify.deploy import FAULT_POLICIES, clear_memo, first_time, memo_for, request_stop  # noqa: F401
from carverify.deploy.guard import MEMORY_BYTES, Fault, acquire, default_deadline, release
from carverify.deploy.monitor import MODES, Monitor, oracle_assignment
from carverify.errors import UsageError

class Paid(dict):
    """info["subtasks"]: sub-task name -> paid so far, a plain dict to every reader.

    SB3's DummyVecEnv deep-copies every step's infos; copy.deepcopy would walk each name and
    truth value with a Python call apiece.  Names are str and values bool, so a shallow copy
    is already a deep one.
    """

    __slots__ = ()

    def __deepcopy__(self, memo):
        return Paid(self)

    def __reduce__(self):
        return dict, (dict(self),)


# Exact-state memo: where the adapter keys a state by everything its observation reads
# (MiniGrid: the grid, the agent's pose and what it carries), and the audited checks are pure
# functions of the observation, a state seen before needs neither a render nor a call.  The bound keeps a long run's memory flat.
MEMO_ENTRIES = 50_000


class CodeReward(gymnasium.Wrapper):
    """Sub-task bonuses (and optional progress shaping) from an accepted program, on the guarded path."""

    def __init__(self, env: gymnasium.Env, suite, source: str, report: Any, *,
                 bonus: float | None = None, ordered: bool = True, memo: bool = True,
                 progress_weight: float = 0.0, gamma: float = 0.99,
                 deadline: float | None = None, memory_bytes: int = MEMORY_BYTES,
                 on_fault: str = "stop", monitor: str = "warn",
                 fault_dir: str | None = None, program_path: str = "program.py",
                 goal_needs_success: bool = False):
        super().__init__(env)
        from carverify.deploy.compiled import checked_program
        from carverify.deploy.accepted import accepted_sha256, read_report
        from carverify.suite import load_suite

        if on_fault not in FAULT_POLICIES:
            raise UsageError(f"on_fault must be one of {', '.join(FAULT_POLICIES)}, got {on_fault!r}")
        if monitor not in MODES:
            raise UsageError(f"monitor must be one of {', '.join(MODES)}, got {monitor!r}")
        self.suite = load_suite(suite) if isinstance(suite, str) else suite
        _check_env(env, self.suite)
        data = read_report(report)
        self.source = source
        self.sha256 = accepted_sha256(source, data, self.suite.name)
        info = checked_program(source)[1]
        self.subtasks: tuple[str, ...] = tuple(info.subtasks)
        self.bonus = self.suite.bonus if bonus is None else float(bonus)
        self.ordered, self.memo = bool(ordered), bool(memo)
        # Where the audit forgave the goal on states pixels cannot tell apart (the suite's
        # goal_tolerance_fact), a policy can learn those states instead of the task: on
        # UnlockPickup it opened the box (which makes it vanish, drawn like carrying it) in up
        # to 69% of evaluations and never succeeded.  Then the goal is paid only with success.
        self.goal_needs_success = bool(goal_needs_success)
        self.progress_weight, self.gamma = float(progress_weight), float(gamma)
        self.has_progress = "progress" in info.functions and "progress" not in info.subtasks
        self.deadline = default_deadline(data) if deadline is None else float(deadline)
        if not self.deadline > 0:
            raise UsageError(f"the reward deadline must be positive, got {deadline!r} s")
        self.memory_bytes = int(memory_bytes)
        self.on_fault, self.monitor_mode = on_fault, monitor
        self.fault_dir, self.program_path = fault_dir, program_path
        self.monitor = Monitor(self.suite, self.subtasks, oracle_assignment(data, self.suite))
        self._guard = None
        self._bind()
        self._paid = [False] * len(self.subtasks)
        self._potential = 0.0
        self.renders = 0   # frames rendered (a memo hit or a fully paid episode renders none)
        # reward.step_calls: steps that called the worker (worker_calls adds the calls at reset for progress)
        self.counts = {"reward.steps": 0, "reward.paid_skips": 0, "reward.memo_hits": 0, "reward.step_calls": 0,
                       "reward.worker_calls": 0, "reward.faults": 0, "reward.fault_steps": 0}
        self.first_fault: dict | None = None

    # -- the guarded path -----------------------------------------------------------------
    @property
    def wants_progress(self) -> bool:
        return self.has_progress and self.progress_weight != 0.0

    def _guard_for(self, frame: np.ndarray):
        guard = self._guard
        if guard is None or guard.owner != os.getpid() or guard.shape != frame.shape or guard.dtype != frame.dtype:
            if guard is not None and guard.owner == os.getpid():
                release(guard)
            from carverify.status import status

            # The first use compiles every check with numba in the reward worker: up to tens of seconds.
            with status(f"compiling the reward checks of {self.program_path} (numba, once per process)"):
                guard = self._guard = acquire(self.source, self.sha256, frame, deadline=self.deadline,
                                              memory_bytes=self.memory_bytes, label=self.program_path)
        return guard

    def compile(self) -> None:
        """Start this process's reward worker now (numba takes seconds), not on the first step."""
        self._guard_for(self._observe())

    def _observe(self) -> np.ndarray:
        try:
            return np.ascontiguousarray(self.suite.render(self.env))
        except (AttributeError, TypeError, KeyError) as exc:
            raise UsageError(f"suite {self.suite.name}'s {self.suite.kind} adapter cannot observe this env "
                             f"({type(self.env.unwrapped).__name__}: {type(exc).__name__}: {exc}): wrap the env "
                             "the suite makes (suite.make_env())") from exc

    def _bind(self) -> None:
        """Look up once what every step uses: the adapter's key and success, and the shared memo.

        suite.adapter resolves the suite.toml entry on each access (microseconds, twice a step).
        The memo dict is the process's own (MEMOS), never a pickled copy: __setstate__ binds again.
        """
        adapter = self.suite.adapter
        self._key_of, self._success = adapter.state_keyer(self.env), adapter.success
        self._memo = memo_for(self.sha256, self.suite.name)

    def _evaluate(self):
        """(holds, progress, fault, frame, new_state); holds None when nothing is left to ask."""
        counts = self.counts
        if all(self._paid) and not self.wants_progress:
            counts["reward.paid_skips"] += 1
            return None, None, None, None, False
        key = self._key_of() if self.memo else None
        if key is not None:
            found = self._memo.get(key)
            if found is not None:
                counts["reward.memo_hits"] += 1
                if found[2] is not None:
                    counts["reward.fault_steps"] += 1
                return found[0], found[1], None, None, False
        frame = self._observe()
        self.renders += 1
        result = self._guard_for(frame).call(frame)
        self.counts["reward.worker_calls"] += 1
        if result.fault is not None:
            self.counts["reward.faults"] += 1
            self.counts["reward.fault_steps"] += 1
        if key is not None:
            memo = self._memo
            if len(memo) >= MEMO_ENTRIES:
                memo.clear()
            memo[key] = result   # a faulting state is remembered too: it pays nothing without a second call
        return result.holds, result.progress, result.fault, frame, True

    def _state_key(self):
        """The adapter's key of everything the program's observation reads; None: no memo (continuous states)."""
        return self._key_of()

    # -- gymnasium ------------------------------------------------------------------------
    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._paid = [False] * len(self.subtasks)
        self.monitor.reset()
        self._potential = 0.0
        if self.wants_progress:
            _, progress, fault, frame, _ = self._evaluate()
            if fault is not None:
                info["reward_fault"] = self._on_fault(fault, frame)
            self._potential = float(progress) if progress is not None else 0.0
        info["subtasks"] = Paid.fromkeys(self.subtasks, False)
        info["subtask_completed"] = []
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        counts = self.counts
        counts["reward.steps"] += 1
        paid = self._paid
        goal_paid = bool(paid) and paid[-1]
        holds, progress, fault, frame, new_state = self._evaluate()
        counts["reward.step_calls"] += new_state
        # Nothing to pay unless a check holds: most steps skip the loop.
        # The environment's success, asked at most once a step and only when something needs it.
        success = None
        completed = []
        if holds is not None and any(holds):
            if self.goal_needs_success and holds[-1] and not self._paid[-1]:
                success = self._success(reward, terminated, info)
            completed = self._pay(holds, goal_allowed=success is not False)
        shaped = 0.0
        if self.wants_progress and progress is not None:
            # A terminal state's potential is 0, so shaping cannot pay for ending an episode.
            shaped = (0.0 if terminated else self.gamma * progress) - self._potential
            self._potential = progress
        if fault is not None:
            info["reward_fault"] = self._on_fault(fault, frame)
        if holds is not None and self.monitor_mode != "off" and self.subtasks:
            if success is None:
                success = self._success(reward, terminated, info)
            # On a state seen before with neither the goal nor success there is nothing to compare
            # (Monitor.observe would count nothing): most steps skip the call.
            if new_state or holds[-1] or success:
                events = self.monitor.observe(self.env, holds, new_state=new_state, goal_paid=goal_paid,
                                              success=success)
                if events:
                    info["monitor"] = [self._on_disagreement(e, frame) for e in events]
        info["env_reward"] = reward
        info["subtasks"] = Paid(zip(self.subtasks, paid))
        info["subtask_completed"] = completed
        return obs, reward + self.bonus * len(completed) + self.progress_weight * shaped, terminated, truncated, info

    def _pay(self, holds: tuple[bool, ...], goal_allowed: bool = True) -> list[str]:
        completed = []
        last = len(self.subtasks) - 1
        for i, name in enumerate(self.subtasks):
            if self._paid[i]:
                continue
            if holds[i] and (goal_allowed or i != last):
                self._paid[i] = True
                completed.append(name)
            elif self.ordered:
                break
        return completed

    # -- faults and disagreements -----------------------------------------------------------
    def _on_fault(self, fault: Fault, frame) -> dict:
        stop = self.on_fault == "stop"
        first = self._first(("fault", fault.kind, fault.subtask))
        saved = self._save(frame, fault.kind) if (first or stop) and frame is not None else None
        line = f"reward fault in {self.program_path}: {fault.message}" + self._where(saved, fault.subtask)
        event = {"kind": fault.kind, "subtask": fault.subtask, "message": fault.message, "line": line,
                 "frame": saved, "stop": stop, "program": self.program_path}
        if self.first_fault is None:
            self.first_fault = event
        if stop:
            request_stop("reward_fault", line)
        elif first:
            print(f"carverify: warning: {line} (on_fault=zero: paying nothing and counting)", file=sys.stderr)
        return event

    def _on_disagreement(self, event, frame) -> dict:
        stop = self.monitor_mode == "stop"
        first = self._first(("monitor", event.kind, event.subtask))
        if frame is None and (first or stop):
            frame = self._observe()   # a memo hit: render it once, to save it
        saved = self._save(frame, f"monitor-{event.kind}") if first or stop else None
        line = f"monitor: {self.program_path}: {event.message}" + self._where(saved, event.subtask)
        if stop:
            request_stop("monitor", line)
        elif first:
            print(f"carverify: warning: {line}", file=sys.stderr)
        return {"kind": event.kind, "subtask": event.subtask, "fact": event.fact, "message": event.message,
                "line": line, "frame": saved, "stop": stop}

    def _first(self, what: tuple) -> bool:
        return first_time((self.sha256, *what))

    def _where(self, saved: str | None, subtask: str | None) -> str:
        if saved is None:
            return ""
        fn = f" --fn {subtask}" if subtask else ""
        return f"; frame saved to {saved} (reproduce: carverify run {self.program_path} --obs {saved}{fn})"

    def _save(self, frame, what: str) -> str | None:
        if frame is None:
            return None
        folder = Path(self.fault_dir) if self.fault_dir else _default_fault_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            n = len(list(folder.glob(f"{self.sha256[:12]}-*.npy")))
            path = folder / f"{self.sha256[:12]}-{what}-{os.getpid()}-{n}.npy"
            np.save(path, np.asarray(frame), allow_pickle=False)
        except OSError as exc:
            print(f"carverify: warning: cannot save the frame to {folder}: {exc.strerror or exc}", file=sys.stderr)
            return None
        return str(path)

    # -- bookkeeping ------------------------------------------------------------------------
    @property
    def deploy_stats(self) -> dict[str, float]:
        """Counters since this wrapper was made: steps, how each was served, faults, monitor counts."""
        out = {k: float(v) for k, v in self.counts.items()}
        out.update(self.monitor.stats())
        return out

    def __getstate__(self):
        # The guard (processes, pipes, shared memory) stays behind; the copy starts its own.  The
        # adapter's methods and the memo stay too: a suite-folder adapter may not pickle, and the
        # copy's memo is its own process's.
        state = dict(self.__dict__)
        for name in ("_key_of", "_success", "_memo"):
            state.pop(name, None)
        state["_guard"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bind()

    def close(self):
        guard, self._guard = self._guard, None
        if guard is not None and guard.owner == os.getpid():
            release(guard)
        return super().close()


def _check_env(env, suite) -> None:
    """A registered env must be the suite's own: another env's observation is not what the program was audited on."""
    env_id = getattr(getattr(env, "spec", None), "id", None)
    if env_id is not None and env_id != suite.env_id:
        raise UsageError(f"CodeReward: the env is {env_id}, but suite {suite.name} runs {suite.env_id}: "
                         f"wrap the env the suite makes (suite.make_env()), or audit the program against "
                         f"a suite for {env_id}")


def _default_fault_dir() -> Path:
    from carverify.episodes import cache_root

    return cache_root().parent / "faults"


def summed_stats(stats: list[dict]) -> dict[str, float]:
    """Counters of several wrappers added up, with the share of steps that never called the worker."""
    total: dict[str, float] = {}
    for s in stats:
        for k, v in (s or {}).items():
            total[k] = total.get(k, 0.0) + float(v)
    steps = total.get("reward.steps", 0.0)
    if steps:
        total["reward.no_call_rate"] = 1.0 - total.get("reward.step_calls", 0.0) / steps
        served = steps - total.get("reward.paid_skips", 0.0)
        if served:
            total["reward.memo_hit_rate"] = total.get("reward.memo_hits", 0.0) / served
    return total
