"""The parent side: start sandbox children, feed them requests, enforce wall-clock limits.

A killed, crashed or silent child becomes an Issue about the program, never an
exception in the caller.  One child serves one audit (one program) and then dies.
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
# Grace the parent grants past a per-call limit before it kills: the child's own
# timer normally fires first; the kill covers C code that ignores signals.
_GRACE = 1.0
_NATIVE_COMPILE_SECONDS = 30.0


def _child_env() -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "NUMBA_CACHE_DIR": "/nonexistent",
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
            cwd=self.tmp, env=_child_env(), start_new_session=True, close_fds=True,
        )
        self.started = time.monotonic()
        self.stderr_tail = b""
        self.killed_by_us = False

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
        self.dead: Issue | None = None
        self.loaded: LoadResult | None = None

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

    # -- requests ----------------------------------------------------------------
    def load(self) -> LoadResult:
        start = time.perf_counter()
        request = {"op": "load", "source": self.source, "limits": self.limits.to_dict(), "mode": self.mode}
        reply, dead = self._request(request, b"", per_call=None, first_deadline=self.limits.load_seconds + 30)
        seconds = time.perf_counter() - start
        if dead is not None:
            self.loaded = LoadResult(False, [dead], (), (), seconds)
        elif not reply["ok"]:
            self.loaded = LoadResult(False, [Issue.from_json(i) for i in reply["issues"]], (), (), seconds)
        else:
            self.loaded = LoadResult(True, [], tuple(reply["subtasks"]), tuple(reply["functions"]), seconds)
        return self.loaded

    def call(self, fns: list[str], frames: np.ndarray, *, stop_on_error: bool = True,
             returns: dict[str, str] | None = None) -> CallBatch:
        """Run `fns` on every frame.  `returns` maps a function to "float" when it must return a
        number (e.g. {"progress": "float"}); any other function must return a truth value."""
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
        reply, dead = self._request(request, frames.tobytes(), per_call=(fns, len(frames)))
        wall = time.perf_counter() - start
        if dead is not None:
            return CallBatch({fn: [] for fn in fns}, empty, empty, {fn: 0 for fn in fns}, {}, {}, dead, wall)
        issues, where = {}, {}
        for fn, data in reply["issues"].items():
            issues[fn] = None if data is None else Issue.from_json(data)
            where[fn] = None if data is None else data["frame"]
        return CallBatch(reply["values"], issues, where, reply["errors"], reply["seconds"],
                         reply["max_seconds"], None, wall, reply.get("times", {}))

    def _request(self, request: dict, payload: bytes, *, per_call, first_deadline: float | None = None):
        child = self._child
        overall = child.started + self.limits.wall_seconds
        try:
            child.proc.stdin.write(json.dumps(request).encode() + b"\n")
            if payload:
                # Written from a thread: a child that stops reading must not block the parent.
                writer = threading.Thread(target=_write_all, args=(child.proc.stdin, payload), daemon=True)
                writer.start()
            else:
                child.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return None, self._death(per_call, 0, "the sandbox child closed its input")
        step = self.limits.call_seconds + _GRACE
        if first_deadline is None:
            # A native child compiles before its first frame returns; LLVM needs its own time.
            first_deadline = step + (_NATIVE_COMPILE_SECONDS if self.mode == "native" else 0.0)
        deadline = time.monotonic() + first_deadline
        progress, buf = 0, bytearray()
        sel = selectors.DefaultSelector()
        sel.register(child.proc.stdout, selectors.EVENT_READ, "out")
        sel.register(child.proc.stderr, selectors.EVENT_READ, "err")
        try:
            while True:
                now = time.monotonic()
                limit = min(deadline, overall)
                if now >= limit:
                    child.kill()
                    timeout = now >= overall and now < deadline
                    return None, self._death(per_call, progress, None, wall=timeout)
                events = sel.select(timeout=limit - now)
                for key, _ in events:
                    data = os.read(key.fileobj.fileno(), 1 << 20)
                    if key.data == "err":
                        child.stderr_tail = (child.stderr_tail + data)[-8192:]
                        if not data:
                            sel.unregister(key.fileobj)
                        continue
                    if not data:
                        child.proc.wait(timeout=5) if child.proc.poll() is None else None
                        return None, self._death(per_call, progress, "eof")
                    buf += data
                    if len(buf) > self.limits.max_output_bytes:
                        child.kill()
                        return None, self._death(per_call, progress, "flood")
                    # Progress bytes come before the JSON line; each resets the per-call watchdog.
                    plus = 0
                    while plus < len(buf) and buf[plus] == 0x2B:
                        plus += 1
                    if plus:
                        progress += plus
                        del buf[:plus]
                        deadline = time.monotonic() + step
                    newline = buf.find(b"\n")
                    if newline >= 0:
                        return json.loads(bytes(buf[:newline])), None
        finally:
            sel.close()

    def _death(self, per_call, progress: int, why: str | None, wall: bool = False) -> Issue:
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
        else:
            where = " while loading the program"
        detail = _crash_detail(child.stderr_tail.decode("utf-8", "replace"))
        if child.killed_by_us and why is None:
            if wall:
                issue = Issue("CV302", f"sandbox child exceeded its {self.limits.wall_seconds:.0f} s wall-clock limit{where}",
                              hint="the whole audit of one program must fit the wall-clock limit", subtask=subtask)
            else:
                issue = Issue("CV302", f"timed out{where} (limit {self.limits.call_seconds:g} s per call)",
                              hint="bound every loop; the check runs at every environment step", subtask=subtask)
        elif why == "flood":
            issue = Issue("CV306", f"sandbox child flooded its output{where}", subtask=subtask)
        elif code is not None and code < 0:
            sig = -code
            if sig == signal.SIGALRM:  # a compiled call overran: the per-call alarm's default action
                issue = Issue("CV302", f"timed out{where} (limit {self.limits.call_seconds:g} s per call)",
                              hint="bound every loop; the check runs at every environment step", subtask=subtask)
            elif sig == signal.SIGXCPU:
                issue = Issue("CV308", f"exceeded the CPU time limit of {self.limits.cpu_seconds} s{where}", subtask=subtask)
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
