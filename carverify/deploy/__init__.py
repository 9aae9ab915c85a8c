"""Contained deployment: an accepted program's checks during training can neither hang, crash nor quietly cheat it.

    compiled.py  the compiled twin of an accepted program (numba, the audit's options)
    worker.py    the reward worker: a zygote that compiles once, workers forked from it
    guard.py     the trainer's side: shared-memory frames, CPU/wall deadlines, faults
    monitor.py   the runtime monitor: goal vs the env's success, oracle facts on new states
    reward.py    CodeReward, the one reward wrapper for every suite family

A fault (a deadline overrun, an exception, an allocation over the limit, a dead worker)
pays nothing for that call.  With on_fault="stop" (the default) it also asks training to
stop: `stop_requested()` returns (kind, the one-line reason), which carverify.train's callback
reads after every step (envs in this process) besides the step's info["reward_fault"]
(envs in other processes).  With on_fault="zero" training goes on and the fault is counted.
"""
from __future__ import annotations

import threading

FAULT_POLICIES = ("stop", "zero")

_stop_lock = threading.Lock()
_stop_reason: tuple[str, str] | None = None


def request_stop(kind: str, reason: str) -> None:
    """Ask training in this process to stop: kind "reward_fault" or "monitor", a one-line reason.  The first wins."""
    global _stop_reason
    with _stop_lock:
        if _stop_reason is None:
            _stop_reason = (kind, reason)


def stop_requested() -> tuple[str, str] | None:
    """(kind, one-line reason) of the first stop asked for in this process, or None."""
    return _stop_reason


def clear_stop() -> None:
    global _stop_reason
    with _stop_lock:
        _stop_reason = None


_seen: set[tuple] = set()

# CodeReward's exact-state memos, per (program, suite), shared by the process's envs.
MEMOS: dict[tuple, dict] = {}


def memo_for(sha256: str, suite_name: str) -> dict:
    """This process's memo for a program on a suite; wrappers keep the dict itself, so it is never replaced."""
    with _stop_lock:
        return MEMOS.setdefault((sha256, suite_name), {})


def clear_memo() -> None:
    """Forget every remembered state of this process (benchmarks measure a cold memo)."""
    with _stop_lock:
        for memo in MEMOS.values():
            memo.clear()


def first_time(key: tuple) -> bool:
    """True the first time `key` is seen in this run (what gets printed and saved once)."""
    with _stop_lock:
        if key in _seen:
            return False
        _seen.add(key)
        return True


def begin_run() -> None:
    """A new training run in this process: no stop asked for, nothing warned about yet, a cold memo.

    The memo starts empty so that a run's counters (reward.no_call_rate, ...) are its own,
    whether it shares its process with earlier runs (sequential) or not (Ray).
    """
    clear_stop()
    with _stop_lock:
        _seen.clear()
    clear_memo()
