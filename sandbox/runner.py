"""The parent side: start sandbox children, feed them requests, watch their CPU time.

A killed, crashed or silent child becomes an Issue, never an exception in the caller.
One child serves one audit (one program) and then dies.

Limits count the child's CPU time (sandbox/limits.py): the child stops itself with
ITIMER_PROF, and this side kills it when its CPU time, read from /proc, passes a budget
by _GRACE (C code that ignores signals).  Both are the program's doing.  The wall clock
is only a backstop, several times each CPU budget, for a child the machine starves or
that is stuck without using CPU: that is an infrastructure error, CV604, which the
caller reports as "error" (retry), never as a rejection.
"""
from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sandbox.issue import Issue
from sandbox.limits import Limits

_ROOT = str(Path(__file__).resolve().parent.parent)
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from sandbox.child import main; main()"
# CPU seconds the parent grants past a child's own CPU budget before it kills: the
# child's timer normally fires first; the kill covers C code that ignores signals.
_GRACE = 1.0
# CPU seconds a child may spend starting up (imports; numba's registries and warm-up in
# native mode) on top of load_seconds before its load reply.
_STARTUP_CPU = 30.0
# No phase's wall-clock backstop is shorter than this: one call of a few ms must survive
# the scheduler's worst moments on a loaded machine.
_MIN_WALL = 10.0
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_helper_cache_dir: str | None = None


def use_helper_cache(directory: str | None) -> None:
    """Where native children read numba's cached helpers, and the warm-up writes them (None: off).

    The sandbox imports nothing from carverify: carverify passes its cache directory in.
    """
    global _helper_cache_dir
    _helper_cache_dir = directory


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process (all its threads), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


# LLVM optimisation level for every compile of a program's checks: the audit's native child,
# the helper warm-up and the deployed reward worker all start with it, so the audited
# machine code is the deployed one.  numba's default (3, with the loop vectoriser) spent
# 2.6x the CPU compiling DoorKey-8x8's reference programs (8.7 s vs 3.3 s for
# tile_probes.py) for per-step costs within noise of each other (7-11 us vs 8-10 us);
# levels change speed only, never what well-defined code computes.
NUMBA_OPT_LEVEL = "2"


def child_env() -> dict[str, str]:
    """The environment of every process that compiles or runs a program's code: nothing inherited."""
    env = {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "NUMBA_CACHE_DIR": "/nonexistent",
        "NUMBA_OPT": NUMBA_OPT_LEVEL,
    }
    # Set on some CPUs because older OpenBLAS builds crash there; not secrets.
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class _Child:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="carverify-sbx-")
        os.chmod(self.tmp, 0o700)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-X", "faulthandler", "-c", _BOOT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=self.tmp, env=child_env(), start_new_session=True, close_fds=True,
        )
        self.started = time.monotonic()
        self.stderr_tail = b""
        self.killed_by_us = False
        self.cpu_at_kill: float | None = None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.killed_by_us = True  # read by _death only when a request was cut short
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.close()

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class SandboxPool:
    """Keeps one child per mode started ahead of time, so an audit skips interpreter start-up.

    Each child still serves exactly one audit; taking one starts its replacement.
    """

    def __init__(self, modes=("restricted",)):
        self._lock = threading.Lock()
        self._idle: dict[str, _Child] = {}
        self._modes = modes
        for mode in modes:
            self._idle[mode] = _Child()

    def take(self, mode: str) -> _Child:
        with self._lock:
            child = self._idle.pop(mode, None)
            if mode in self._modes:
                self._idle[mode] = _Child()
        if child is None or child.proc.poll() is not None:
            if child is not None:
                child.close()
            child = _Child()
        return child

    def close(self) -> None:
        with self._lock:
            for child in self._idle.values():
                child.kill()
            self._idle.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class CompileResult(NamedTuple):
    issues: dict[str, Issue | None]  # per function: CV601, or None when it compiled
    dead: Issue | None               # the child died (CV302/CV308/CV306/...) or the backstop fired (CV604)
    cpu_seconds: float               # the child's compiler CPU time
    wall_seconds: float
    helpers: dict                    # numba helper cache: hits, entries, misses (sandbox/helper_cache.py)


class LoadResult(NamedTuple):
    ok: bool
    issues: list[Issue]
    subtasks: tuple[str, ...]
    functions: tuple[str, ...]
    seconds: float


class CallBatch(NamedTuple):
    values: dict[str, list[bool | float | None]]  # per function, one entry per frame called (float: see returns)
    issues: dict[str, Issue | None]        # first problem per function
    frames: dict[str, int | None]          # frame index of that first problem
    errors: dict[str, int]
    seconds: dict[str, float]
    max_seconds: dict[str, float]
    dead: Issue | None                     # the child died: nothing more can be asked
    wall_seconds: float
    times: dict[str, list[float]] = {}     # per function, seconds of each call that returned (never mutated)


class Sandbox:
    """One program loaded in one child process.

        with Sandbox(source, limits) as box:
            load = box.load()
            batch = box.call(["has_key"], frames)
    """

    def __init__(self, source: str, limits: Limits = Limits(), *, mode: str = "restricted",
                 pool: SandboxPool | None = None):
        self.source = source
        self.limits = limits
        self.mode = mode
        self._child = pool.take(mode) if pool else _Child()
        # The whole-child backstop runs from now: a pooled child may have waited idle.
        self._child.started = time.monotonic()
        self.helper_cache = _helper_cache_dir if mode == "native" else None
        self._warm_ups: list[subprocess.Popen] = []
        self.dead: Issue | None = None
        self.loaded: LoadResult | None = None
        self._compiled: dict[tuple, CompileResult] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        child = self._child
        if child is None:
            return
        self._child = None
        # The child holds no state worth a graceful exit; interpreter shutdown costs ~70 ms.
        child.kill()
        self._finish_warm_ups()

    def interrupt(self) -> None:
        """Kill the child from another thread; a request in progress there returns it as dead."""
        child = self._child
        if child is not None and child.proc.poll() is None:
            child.killed_by_us = True
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def _finish_warm_ups(self) -> None:
        # The warm-up writes cache entries for the next audit; it runs our code only and
        # has its own CPU limit, so waiting is bounded.  One that overruns is just lost time.
        for proc in self._warm_ups:
            try:
                proc.wait(timeout=self.limits.wall_factor * 120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()
        self._warm_ups.clear()

    # -- requests ----------------------------------------------------------------
    def load(self) -> LoadResult:
        start = time.perf_counter()
        request = {"op": "load", "source": self.source, "limits": self.limits.to_dict(), "mode": self.mode}
        if self.helper_cache:
            request["helper_cache"] = self.helper_cache
        reply, dead = self._request(request, b"", per_call=None, phase="load",
                                    first_cpu=self.limits.load_seconds + _STARTUP_CPU)
        seconds = time.perf_counter() - start
        if dead is not None:
            self.loaded = LoadResult(False, [dead], (), (), seconds)
        elif not reply["ok"]:
            self.loaded = LoadResult(False, [Issue.from_json(i) for i in reply["issues"]], (), (), seconds)
        else:
            self.loaded = LoadResult(True, [], tuple(reply["subtasks"]), tuple(reply["functions"]), seconds)
        return self.loaded

    def compile(self, fns: list[str], frames: np.ndarray) -> CompileResult:
        """Native mode: compile `fns` for the type of one of `frames`, all in one request.

        No frame is sent or run.  The child spends at most limits.compile_seconds of CPU on
        the batch; a function that fails gets its CV601.  Helper signatures the child had
        to compile itself are handed to a trusted warm-up for the next audit.
        """
        start = time.perf_counter()
        if self.dead is not None or self.loaded is None or not self.loaded.ok:
            issue = self.dead or Issue("CV307", "the program was not loaded")
            return CompileResult({fn: None for fn in fns}, issue, 0.0, 0.0, {})
        frames = np.asarray(frames)
        # Several stages ask for the same batch (one may have asked ahead, in the background):
        # the child compiles it once, and a failure is not compiled again.
        key = (tuple(fns), frames.dtype.str, frames.shape[1:])
        if key not in self._compiled:
            self._compiled[key] = self._compile(fns, frames, start)
        return self._compiled[key]

    def _compile(self, fns: list[str], frames: np.ndarray, start: float) -> CompileResult:
        request = {"op": "compile", "fns": list(fns), "shape": [0, *frames.shape[1:]], "dtype": frames.dtype.str}
        reply, dead = self._request(request, b"", per_call=None, phase="compile",
                                    first_cpu=self.limits.compile_seconds)
        wall = time.perf_counter() - start
        if dead is not None:
            return CompileResult({fn: None for fn in fns}, dead, 0.0, wall, {})
        issues = {fn: (None if data is None else Issue.from_json(data)) for fn, data in reply["issues"].items()}
        helpers = reply.get("helpers") or {}
        if self.helper_cache and helpers.get("misses"):
            from sandbox.helper_cache import start_warm_up
            proc = start_warm_up(self.helper_cache, helpers["misses"], child_env())
            if proc is not None:
                self._warm_ups.append(proc)
        return CompileResult(issues, None, float(reply["cpu_seconds"]), wall, helpers)

    def call(self, fns: list[str], frames: np.ndarray, *, stop_on_error: bool = True,
             returns: dict[str, str] | None = None) -> CallBatch:
        """Run `fns` on every frame.  `returns` maps a function to "float" when it must return a
        number (e.g. {"progress": "float"}); any other function must return a truth value.

        seconds, max_seconds and times are the child's CPU seconds per call."""
        frames = np.ascontiguousarray(frames)
        start = time.perf_counter()
        empty = {fn: None for fn in fns}
        if self.dead is not None or self.loaded is None or not self.loaded.ok:
            issue = self.dead or Issue("CV307", "the program was not loaded")
            return CallBatch({fn: [] for fn in fns}, empty, empty, {fn: 0 for fn in fns}, {}, {}, issue, 0.0)
        request = {"op": "call", "fns": list(fns), "shape": list(frames.shape), "dtype": frames.dtype.str,
                   "stop_on_error": stop_on_error}
        if returns:
            request["returns"] = {fn: kind for fn, kind in returns.items() if fn in fns}
        # A native child compiles what was not compiled yet before its first call returns.
        first = self.limits.call_seconds + (self.limits.compile_seconds if self.mode == "native" else 0.0)
        reply, dead = self._request(request, frames.tobytes(), per_call=(fns, len(frames)), phase="call",
                                    first_cpu=first)
        wall = time.perf_counter() - start
        if dead is not None:
            return CallBatch({fn: [] for fn in fns}, empty, empty, {fn: 0 for fn in fns}, {}, {}, dead, wall)
        issues, where = {}, {}
        for fn, data in reply["issues"].items():
            issues[fn] = None if data is None else Issue.from_json(data)
            where[fn] = None if data is None else data["frame"]
        return CallBatch(reply["values"], issues, where, reply["errors"], reply["seconds"],
                         reply["max_seconds"], None, wall, reply.get("times", {}))

    def _request(self, request: dict, payload: bytes, *, per_call, phase: str, first_cpu: float):
        """Send one request and wait for its reply line, watching the child's CPU time.

        A phase lasts until the next progress byte (one per finished call): the first gets
        `first_cpu` CPU seconds, each later one call_seconds, plus _GRACE.  Over that, the
        child is killed as the program's fault.  The wall clock only backs this up:
        wall_factor times the phase's CPU budget, and the child's whole-life backstop.
        """
        child = self._child
        if self.dead is not None:
            return None, self.dead
        overall = child.started + self.limits.child_wall_seconds(self.mode)
        try:
            child.proc.stdin.write(json.dumps(request).encode() + b"\n")
            if payload:
                # Written from a thread: a child that stops reading must not block the parent.
                writer = threading.Thread(target=_write_all, args=(child.proc.stdin, payload), daemon=True)
                writer.start()
            else:
                child.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return None, self._death(per_call, 0, "the sandbox child closed its input", phase)
        cpu_budget = first_cpu + _GRACE
        progress, buf = 0, bytearray()
        phase_wall, phase_cpu = time.monotonic(), cpu_seconds(child.proc.pid)
        sel = selectors.DefaultSelector()
        sel.register(child.proc.stdout, selectors.EVENT_READ, "out")
        sel.register(child.proc.stderr, selectors.EVENT_READ, "err")
        try:
            while True:
                now = time.monotonic()
                cpu = cpu_seconds(child.proc.pid)
                # Without /proc the CPU clock is unknown: the phase's wall time stands in for it.
                used = (cpu - phase_cpu) if cpu is not None and phase_cpu is not None else now - phase_wall
                if used > cpu_budget:
                    child.kill()
                    return None, self._death(per_call, progress, "cpu", phase)
                wall_budget = max(_MIN_WALL, self.limits.wall_factor * cpu_budget)
                if now - phase_wall > wall_budget or now > overall:
                    child.cpu_at_kill = cpu
                    child.kill()
                    return None, self._death(per_call, progress, "wall", phase,
                                             waited=now - phase_wall if now - phase_wall > wall_budget else None)
                # Sleep until the CPU budget could first run out (one thread's CPU time cannot
                # outrun the wall clock), capped so that a multi-threaded child is seen in time.
                wake = min(cpu_budget - used, phase_wall + wall_budget - now, overall - now, 1.0)
                events = sel.select(timeout=max(wake, 0.01))
                for key, _ in events:
                    data = os.read(key.fileobj.fileno(), 1 << 20)
                    if key.data == "err":
                        child.stderr_tail = (child.stderr_tail + data)[-8192:]
                        if not data:
                            sel.unregister(key.fileobj)
                        continue
                    if not data:
                        child.proc.wait(timeout=5) if child.proc.poll() is None else None
                        return None, self._death(per_call, progress, "eof", phase)
                    buf += data
                    if len(buf) > self.limits.max_output_bytes:
                        child.kill()
                        return None, self._death(per_call, progress, "flood", phase)
                    # Progress bytes come before the JSON line; each starts the next call's phase.
                    plus = 0
                    while plus < len(buf) and buf[plus] == 0x2B:
                        plus += 1
                    if plus:
                        progress += plus
                        del buf[:plus]
                        cpu_budget = self.limits.call_seconds + _GRACE
                        phase_wall, phase_cpu = time.monotonic(), cpu_seconds(child.proc.pid)
                    newline = buf.find(b"\n")
                    if newline >= 0:
                        return json.loads(bytes(buf[:newline])), None
        finally:
            sel.close()

    def _death(self, per_call, progress: int, why: str | None, phase: str, waited: float | None = None) -> Issue:
        child = self._child
        try:
            code = child.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.proc.wait()
        where, subtask = "", None
        if per_call is not None:
            fns, n = per_call
            if n and progress < len(fns) * n:
                subtask = fns[progress // n]
                where = f" while running {subtask}(obs) on frame {progress % n}"
            elif progress == 0 and self.mode == "native":
                where = " while compiling"
        elif phase == "load":
            where = " while loading the program"
        elif phase == "compile":
            where = " while compiling"
        detail = _crash_detail(child.stderr_tail.decode("utf-8", "replace"))
        if child.killed_by_us and why == "wall":
            cpu = "" if child.cpu_at_kill is None else f" (it had used {child.cpu_at_kill:.1f} s of CPU)"
            if waited is not None:
                limit = f"waited {waited:.0f} s of wall-clock time for one step{where}"
            else:
                limit = f"reached its {self.limits.child_wall_seconds(self.mode):.0f} s wall-clock backstop{where}"
            issue = Issue("CV604", f"sandbox child {limit}{cpu}, before any CPU limit: the machine is too busy "
                          "or the child is stuck outside the program; the program was not judged",
                          hint="retry the audit; if it recurs on a quiet machine, report it", subtask=subtask)
        elif child.killed_by_us and why == "cpu":
            if phase == "load":
                issue = Issue("CV302", f"timed out{where} (limit {self.limits.load_seconds:g} s of CPU for "
                              "module-level code)", hint="module level holds constants only", subtask=subtask)
            elif phase == "compile" or where == " while compiling":
                issue = Issue("CV601", f"numba did not finish compiling the program within "
                              f"{self.limits.compile_seconds:g} s of CPU time", subtask=subtask,
                              hint="simplify the check: fewer, smaller functions")
            else:
                issue = Issue("CV302", f"timed out{where} (limit {self.limits.call_seconds:g} s of CPU per call)",
                              hint="bound every loop; the check runs at every environment step", subtask=subtask)
        elif why == "flood":
            issue = Issue("CV306", f"sandbox child flooded its output{where}", subtask=subtask)
        elif code is not None and code < 0:
            sig = -code
            if sig in (signal.SIGPROF, signal.SIGALRM):  # a compiled call overran: the CPU timer's default action
                issue = Issue("CV302", f"timed out{where} (limit {self.limits.call_seconds:g} s of CPU per call)",
                              hint="bound every loop; the check runs at every environment step", subtask=subtask)
            elif sig == signal.SIGXCPU:
                issue = Issue("CV308", f"exceeded the CPU time limit of {self.limits.child_cpu_seconds(self.mode)} s"
                              f"{where}", subtask=subtask)
            elif sig == signal.SIGKILL and "MemoryError" in detail:
                issue = Issue("CV303", f"ran out of memory{where}", subtask=subtask)
            else:
                issue = Issue("CV306", f"sandbox child was killed by {signal.Signals(sig).name}{where}{detail}",
                              subtask=subtask)
        elif "MemoryError" in detail:
            issue = Issue("CV303", f"ran out of memory{where}", subtask=subtask)
        elif code == 0:
            issue = Issue("CV307", f"sandbox child exited without a result{where}", subtask=subtask)
        else:
            issue = Issue("CV306", f"sandbox child crashed with exit code {code}{where}{detail}", subtask=subtask)
        self.dead = issue
        return issue


def _write_all(stream, payload: bytes) -> None:
    try:
        stream.write(payload)
        stream.flush()
    except (BrokenPipeError, OSError, ValueError):
        pass


_EXCEPTION_LINE = re.compile(r"^\w+(Error|Exception): .+")


def _crash_detail(stderr: str) -> str:
    """The line of a dead child's stderr that says what happened, as ": line" (or "").

    faulthandler ends its report with the list of loaded extension modules, which says
    nothing; an exception raised just before the crash, or faulthandler's own headline, does.
    """
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Extension modules:", "File ", "Stack (most recent",
                                                             "Current thread", "Thread 0x", "<no Python frame>"))]
    pick = next((line for line in reversed(useful) if _EXCEPTION_LINE.match(line)), None) \
        or next((line for line in reversed(useful) if line.startswith("Fatal Python error")), None) \
        or (useful[-1] if useful else None)
    return f": {pick[:200]}" if pick else ""
