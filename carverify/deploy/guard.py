"""The trainer's side of the reward worker: every check call under a deadline, bounded memory, faults caught.

    guard = acquire(source, sha256, frame, deadline=0.05)
    result = guard.call(frame)        # Result(holds, progress, fault)
    release(guard)

One guard per (program, frame type, limits) per process: the envs of a DummyVecEnv and
the evaluator's envs share it, each SubprocVecEnv process has its own.  A call copies
the frame into shared memory, writes 8 bytes to the worker and waits for its reply
(about 30 µs on an idle core).  What can go wrong is a `Fault`, never an exception:

- the call overruns its CPU deadline: the kernel ends the worker (SIGPROF);
- the worker does not answer within the wall deadline (20x the CPU deadline, at least
  2 s): the trainer kills it;
- a check raises (IndexError, ZeroDivisionError, AssertionError, KeyError, MemoryError
  when an allocation exceeds the worker's address-space limit, ...);
- the worker dies any other way (a signal, an exit).

After a fault the worker is killed and the next call gets a fresh one, forked from the
zygote with the checks already compiled (milliseconds, not a new numba compile).  Only
a failure of our own machinery (the zygote cannot start or compile) raises, as
InternalError or UsageError.
"""
from __future__ import annotations

import atexit
import json
import math
import mmap
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from carverify.deploy.worker import OK, PAGE, PROGRESS_AT, REPLY_HEAD, REQUEST, VALUES_AT
from carverify.errors import InternalError, UsageError
from sandbox.runner import child_env

DEADLINE_FLOOR = 0.05        # seconds of CPU per call, at least
DEADLINE_FACTOR = 100.0      # times the audited per-step cost of the compiled checks
WALL_FACTOR, WALL_FLOOR = 20.0, 2.0
STARTUP_SECONDS = 900.0      # the zygote imports numba and compiles: seconds, minutes on a loaded machine
CONTROL_SECONDS = 30.0       # a fork or a reap by the zygote
MEMORY_BYTES = 1 << 30       # as the sandbox (sandbox.limits.Limits.memory_bytes): on top of what the worker maps
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from carverify.deploy.worker import main; main()"


@dataclass(frozen=True)
class Fault:
    """What went wrong in one call; `message` is one line naming the check."""

    kind: str             # "cpu_deadline", "wall_deadline", "exception", "memory", "crash"
    subtask: str | None   # the check that was running (None: before or between checks)
    message: str


class Result(NamedTuple):
    holds: tuple[bool, ...] | None     # one truth value per sub-task check; None after a fault
    progress: float | None             # progress(obs) when the program defines it
    fault: Fault | None


def default_deadline(report: dict | None) -> float:
    """CPU seconds per call: DEADLINE_FACTOR x the audited per-step cost, at least DEADLINE_FLOOR.

    The compile stage records the compiled checks' mean cost per step (best of five
    timing passes, summed over the checks); it keeps no p99, so the factor applies to it.
    """
    metrics = {}
    for stage in (report or {}).get("stages", []):
        if stage.get("stage") == "compile":
            metrics = stage.get("metrics", {})
    step_us = metrics.get("compiled_step_us")
    if not isinstance(step_us, (int, float)) or not math.isfinite(step_us) or step_us <= 0:
        return DEADLINE_FLOOR
    return max(DEADLINE_FLOOR, DEADLINE_FACTOR * step_us * 1e-6)


class _Worker(NamedTuple):
    pid: int
    request: int     # write end
    reply: int       # read end
    poll: select.poll


class Guard:
    """One zygote (compiled program) and at most one live worker, serving calls in order."""

    def __init__(self, source: str, sha256: str, dtype: np.dtype, shape: tuple[int, ...], *,
                 deadline: float = DEADLINE_FLOOR, memory_bytes: int = MEMORY_BYTES, label: str = "program.py"):
        if not deadline > 0:
            raise UsageError(f"the reward deadline must be positive, got {deadline!r} s")
        self.source, self.sha256, self.label = source, sha256, label
        self.dtype, self.shape = np.dtype(dtype), tuple(int(n) for n in shape)
        self.deadline, self.memory_bytes = float(deadline), int(memory_bytes)
        self.wall = max(WALL_FACTOR * self.deadline, WALL_FLOOR)
        self.owner = os.getpid()
        self.subtasks: tuple[str, ...] = ()
        self.has_progress = False
        self.calls = self.faults = self.restarts = 0
        self._lock = threading.Lock()
        self._zygote: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._stderr = None
        self._worker: _Worker | None = None
        self._number = 0
        size = max(int(np.prod(self.shape)) * self.dtype.itemsize, 1)
        self._shm_fd = os.memfd_create("carverify-reward", os.MFD_CLOEXEC)
        os.ftruncate(self._shm_fd, PAGE + -(-size // PAGE) * PAGE)
        self._shm = mmap.mmap(self._shm_fd, PAGE + size)
        self._frame = np.ndarray(self.shape, self.dtype, buffer=self._shm, offset=PAGE)
        self._progress = np.ndarray((1,), np.float64, buffer=self._shm, offset=PROGRESS_AT)
        try:
            self._start()
        except BaseException:
            self._frame = self._progress = None
            self._shm.close()
            os.close(self._shm_fd)
            raise

    # -- the zygote -------------------------------------------------------------------
    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stderr = tempfile.TemporaryFile(prefix="carverify-reward-")
        try:
            self._zygote = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(theirs.fileno()), str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
                pass_fds=(theirs.fileno(),), env=child_env(), cwd="/", start_new_session=True)
        finally:
            theirs.close()
        self._control = ours
        reply = self._ask({"op": "load", "source": self.source, "sha256": self.sha256, "dtype": self.dtype.str,
                           "shape": list(self.shape),
                           "cpu_seconds": self.deadline, "memory_bytes": self.memory_bytes,
                           "compile_memory_bytes": _compile_memory()}, timeout=STARTUP_SECONDS)
        if reply is None:
            detail = self._stderr_tail()
            self._stop_zygote()
            raise InternalError(f"the reward worker for {self.label} did not start{detail}")
        if not reply.get("ok"):
            self._stop_zygote()
            raise UsageError(f"the reward worker cannot compile {self.label}: {reply.get('error')}")
        self.subtasks = tuple(reply["subtasks"])
        self.has_progress = bool(reply["progress"])

    def _ask(self, message: dict, fds=(), timeout: float = CONTROL_SECONDS) -> dict | None:
        """One control exchange with the zygote; None if it is gone or silent."""
        control = self._control
        if control is None:
            return None
        try:
            control.settimeout(timeout)
            socket.send_fds(control, [json.dumps(message).encode()], list(fds))
            data = control.recv(1 << 16)
        except OSError:
            return None
        return json.loads(data) if data else None

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(self._stderr.tell() - 4000, 0))
            lines = [ln for ln in self._stderr.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        except (OSError, ValueError):
            return ""
        return f": {lines[-1].strip()[:300]}" if lines else ""

    def _stop_zygote(self) -> None:
        if self._control is not None:
            self._control.close()   # the zygote ends its workers and exits on EOF
            self._control = None
        proc, self._zygote = self._zygote, None
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    # -- workers ----------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        worker = self._fork_worker()
        if worker is None:
            # The zygote itself is gone (killed from outside, out of memory): start it again, once.
            self._stop_zygote()
            self._start()
            worker = self._fork_worker()
            if worker is None:
                raise InternalError(f"the reward worker for {self.label} cannot fork a worker process"
                                    f"{self._stderr_tail()}")
        self._worker = worker
        return worker

    def _fork_worker(self) -> _Worker | None:
        request_r, request_w = os.pipe()
        reply_r, reply_w = os.pipe()
        try:
            reply = self._ask({"op": "spawn"}, fds=(request_r, reply_w, self._shm_fd))
        finally:
            os.close(request_r)
            os.close(reply_w)
        if reply is None or "pid" not in reply:
            os.close(request_w)
            os.close(reply_r)
            return None
        poll = select.poll()
        poll.register(reply_r, select.POLLIN)
        return _Worker(int(reply["pid"]), request_w, reply_r, poll)

    def _retire(self, worker: _Worker, kill: bool) -> dict:
        """Close a worker's pipes, kill it if asked, and learn from the zygote how it ended."""
        self._worker = None
        if kill:
            try:
                os.kill(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.close(worker.request)
        os.close(worker.reply)
        self.restarts += 1
        return self._ask({"op": "reap", "pid": worker.pid}) or {"signal": None, "code": None}

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    @property
    def zygote_pid(self) -> int | None:
        return self._zygote.pid if self._zygote is not None else None

    # -- calls ------------------------------------------------------------------------
    def call(self, frame: np.ndarray) -> Result:
        """Every check on `frame` (and progress, if the program has it): truth values, or a Fault."""
        with self._lock:
            if os.getpid() != self.owner:
                raise InternalError("a reward guard was used from a forked process; acquire one there")
            if self._control is None:
                raise InternalError(f"the reward guard for {self.label} is closed")
            worker = self._worker or self._spawn()
            np.copyto(self._frame, frame, casting="no")
            self._number += 1
            self.calls += 1
            try:
                os.write(worker.request, REQUEST.pack(self._number))
            except OSError:
                # Died while idle (killed from outside): not this frame's doing; one fresh worker.
                self._retire(worker, kill=True)
                worker = self._spawn()
                os.write(worker.request, REQUEST.pack(self._number))
            data = os.read(worker.reply, 4096) if worker.poll.poll(int(self.wall * 1000)) else None
            if data:
                number, status, index = REPLY_HEAD.unpack_from(data)
                if number == self._number and status == OK:
                    holds = tuple(b != 0 for b in self._shm[VALUES_AT:VALUES_AT + len(self.subtasks)])
                    progress = float(self._progress[0]) if self.has_progress else None
                    return Result(holds, progress, None)
                self._retire(worker, kill=True)   # a raising worker is replaced: no state carries over
                return Result(None, None, self._raised(index, data[REPLY_HEAD.size:].decode("utf-8", "replace")))
            running = self._shm[0]
            ended = self._retire(worker, kill=data is None)
            return Result(None, None, self._died(running, ended, timed_out=data is None))

    def _name(self, index: int) -> str | None:
        if index < len(self.subtasks):
            return self.subtasks[index]
        return "progress" if self.has_progress else None

    def _raised(self, index: int, text: str) -> Fault:
        self.faults += 1
        name = self._name(index)
        kind = "memory" if text.startswith("MemoryError") else "exception"
        limit = f" (over the worker's {self.memory_bytes / (1 << 20):.0f} MiB allowance)" if kind == "memory" else ""
        return Fault(kind, name, f"{name or 'the program'}(obs) raised {text}{limit}")

    def _died(self, index: int, ended: dict, timed_out: bool) -> Fault:
        self.faults += 1
        name = self._name(index)
        where = f"{name}(obs)" if name else "the reward worker"
        sig = ended.get("signal")
        if timed_out:
            return Fault("wall_deadline", name, f"{where} did not return within the {self.wall:g} s wall deadline "
                         "(worker killed and restarted)")
        if sig == signal.SIGPROF:
            return Fault("cpu_deadline", name, f"{where} exceeded its {1000 * self.deadline:g} ms CPU deadline "
                         "(worker killed and restarted)")
        if sig == signal.SIGKILL:
            return Fault("crash", name, f"{where}: the worker was killed by SIGKILL (out of memory?)")
        if sig is not None:
            return Fault("crash", name, f"{where}: the worker died of {signal.Signals(sig).name}")
        return Fault("crash", name, f"{where}: the worker exited (code {ended.get('code')})")

    def close(self) -> None:
        with self._lock:
            worker = self._worker
            if worker is not None and os.getpid() == self.owner:
                self._retire(worker, kill=True)
            if os.getpid() == self.owner:
                self._stop_zygote()
            if self._shm is not None:
                self._frame = self._progress = None
                self._shm.close()
                self._shm = None
                os.close(self._shm_fd)


def _compile_memory() -> int:
    from sandbox.limits import Limits

    return Limits().compile_memory_bytes


# -- one guard per program and frame type, per process ------------------------------------
_GUARDS: dict[tuple, Guard] = {}
_USERS: dict[tuple, int] = {}
_REGISTRY = threading.Lock()


def acquire(source: str, sha256: str, frame: np.ndarray, *, deadline: float, memory_bytes: int = MEMORY_BYTES,
            label: str = "program.py") -> Guard:
    """This process's guard for the program and the frame's type, started (compiled) on first use."""
    frame = np.asarray(frame)
    key = (sha256.lower(), frame.dtype.str, frame.shape, float(deadline), int(memory_bytes))
    with _REGISTRY:
        guard = _GUARDS.get(key)
        if guard is None:
            guard = Guard(source, sha256, frame.dtype, frame.shape, deadline=deadline, memory_bytes=memory_bytes,
                          label=label)
            _GUARDS[key] = guard
        _USERS[key] = _USERS.get(key, 0) + 1
    return guard


def release(guard: Guard) -> None:
    """One user fewer; the last one closes the guard (its worker and zygote end)."""
    with _REGISTRY:
        for key, known in list(_GUARDS.items()):
            if known is guard:
                _USERS[key] -= 1
                if _USERS[key] <= 0:
                    del _GUARDS[key], _USERS[key]
                    guard.close()
                return


def close_all() -> None:
    with _REGISTRY:
        guards = list(_GUARDS.values())
        _GUARDS.clear()
        _USERS.clear()
    for guard in guards:
        guard.close()


def live_guards() -> list[Guard]:
    with _REGISTRY:
        return list(_GUARDS.values())


def _forget_after_fork() -> None:
    # A forked child (e.g. a fork-started SubprocVecEnv worker) must not share its parent's workers.
    global _REGISTRY
    _GUARDS.clear()
    _USERS.clear()
    _REGISTRY = threading.Lock()


atexit.register(close_all)
os.register_at_fork(after_in_child=_forget_after_fork)
