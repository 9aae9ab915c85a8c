"""The sandbox child: loads one program under limits and answers call requests.

Protocol (stdin/stdout of this process, nothing else):
  parent -> child  one JSON line per request; a "call" request is followed by raw frame bytes
  child  -> parent one b"+" per finished call (the parent's per-call watchdog), then one JSON line
Results are JSON, never pickle.  The program's code runs only after the limits
are in place and privileges are dropped.

Every time limit here counts this process's CPU time (ITIMER_PROF, RLIMIT_CPU), never
the wall clock: a program gets the same verdict on a quiet machine and a loaded one.
The parent (sandbox/runner.py) keeps a wall-clock backstop for a child that is starved
or stuck, and reports it as an infrastructure error, not as the program's fault.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import zlib

import numpy as np

from RestrictedPython import compile_restricted_exec

from sandbox.guards import Forbidden, InputWrite, freeze_constants, make_globals
from sandbox.issue import Issue
from sandbox.limits import Limits
from sandbox.normalize import normalize
from sandbox.policy import check_policy
from sandbox.source import parse_source

PROGRAM_FILE = "program.py"
_OUT = 1


class CallTimeout(BaseException):
    """Raised by SIGPROF in the middle of a program call; programs cannot catch it (no try)."""


_armed = False
# The CPU-time timer: SIGPROF fires after this process has used the given CPU seconds
# (user + system), however long the scheduler kept it waiting.
TIMER = signal.ITIMER_PROF
TIMER_SIGNAL = signal.SIGPROF


def _on_alarm(signum, frame):
    if _armed:
        raise CallTimeout()


def arm(seconds: float, interval: float = 0.0) -> None:
    signal.setitimer(TIMER, seconds, interval)


def disarm() -> None:
    signal.setitimer(TIMER, 0)


def _send(obj) -> None:
    data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(_OUT, view):]


def _read_exact(stream, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("parent closed the pipe mid-request")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def apply_limits(limits: Limits, mode: str) -> None:
    used = int(sum(resource.getrusage(resource.RUSAGE_SELF)[:2])) + 1
    memory = limits.compile_memory_bytes if mode == "native" else limits.memory_bytes
    cpu = limits.child_cpu_seconds(mode)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (used + cpu, used + cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    _drop_privileges()


def _drop_privileges() -> None:
    # RLIMIT_NPROC does not bind root, so a root parent's child becomes nobody.
    if os.geteuid() != 0:
        return
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def _safe_str(value) -> str:
    # Formatting hostile values can itself fail (a 5000-digit int exceeds int_max_str_digits).
    try:
        return str(value)
    except BaseException:  # noqa: BLE001
        return f"<{type(value).__name__} that cannot be displayed>"


def _program_line(tb) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PROGRAM_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _issue_for(exc: BaseException, what: str, subtask: str | None) -> Issue:
    line = _program_line(exc.__traceback__)
    if isinstance(exc, CallTimeout):
        return Issue("CV302", f"{what} timed out", line, None, "bound every loop; the check runs at every step", subtask)
    if isinstance(exc, InputWrite):
        return Issue("CV305", f"{what}: {_safe_str(exc)}", line, None, "work on a copy: m = obs.copy()", subtask)
    if isinstance(exc, Forbidden):
        return Issue("CV310", f"{what}: {_safe_str(exc)}", line, None, None, subtask)
    if isinstance(exc, MemoryError):
        return Issue("CV303", f"{what} ran out of memory", line, None, "allocate arrays the size of the frame, not more", subtask)
    text = _safe_str(exc)[:300]
    if isinstance(exc, ValueError) and "read-only" in text:
        return Issue("CV305", f"{what} tried to modify a read-only array: its input or a module constant ({text})",
                     line, None, "work on a copy: m = obs.copy()", subtask)
    return Issue("CV301", f"{what} raised {type(exc).__name__}: {text}" if text else f"{what} raised {type(exc).__name__}",
                 line, None, None, subtask)


class Program:
    def __init__(self, source: str, limits: Limits, mode: str):
        self.limits = limits
        self.mode = mode
        self.globals: dict = {}
        self.subtasks: tuple[str, ...] = ()
        self.functions: dict = {}

    def load(self, source: str) -> dict:
        tree, issues = parse_source(source, self.limits)
        info = None
        if tree is not None:
            info, issues = check_policy(tree)
        if issues:  # the parent checks first; this is the child's own refusal
            return {"ok": False, "issues": [i.to_json() for i in issues]}
        tree = normalize(tree)
        if self.mode == "native":
            return _native_loader(self, tree, info)
        result = compile_restricted_exec(tree, filename=PROGRAM_FILE)
        if result.errors:
            return {"ok": False, "issues": [Issue("CV211", f"RestrictedPython: {e}").to_json() for e in result.errors]}
        self.globals = make_globals()
        issue = self._run_module(result.code)
        if issue is not None:
            return {"ok": False, "issues": [issue.to_json()]}
        return self._finish_load(info)

    def _run_module(self, code) -> Issue | None:
        global _armed
        try:
            try:
                _armed = True
                arm(self.limits.load_seconds)
                exec(code, self.globals)
            finally:
                disarm()
                _armed = False
        except BaseException as exc:  # noqa: BLE001 - hostile code may raise anything
            issue = _issue_for(exc, "module-level code", None)
            return issue._replace(code="CV309") if issue.code == "CV301" else issue
        return None

    def _finish_load(self, info) -> dict:
        freeze_constants(self.globals)
        self.subtasks = tuple(info.subtasks)
        self.functions = {name: self.globals[name] for name in info.functions if callable(self.globals.get(name))}
        missing = [s for s in self.subtasks if s not in self.functions]
        if missing:
            return {"ok": False, "issues": [Issue("CV206", f"sub-task function '{missing[0]}' is not defined").to_json()]}
        return {"ok": True, "subtasks": list(self.subtasks), "functions": sorted(self.functions)}

    def call(self, fns: list[str], frames: np.ndarray, stop_on_error: bool, returns: dict | None = None) -> dict:
        """Run each function on each frame.  `returns` names the functions that return a
        number ("float", e.g. progress); every other function must return a truth value."""
        global _armed
        out = {"values": {}, "issues": {}, "errors": {}, "seconds": {}, "max_seconds": {}, "times": {}}
        returns = returns or {}
        for fn_name in fns:
            fn = self.functions[fn_name]
            wants_float = returns.get(fn_name) == "float"
            values, first, errors, total, worst, times = [], None, 0, 0.0, 0.0, []
            for index in range(len(frames)):
                frame = frames[index]
                before = zlib.crc32(frame.data)
                value = None
                try:
                    try:
                        _armed = True
                        arm(self.limits.call_seconds)
                        # CPU seconds, like the limit: time spent descheduled is not the check's.
                        # The thread's clock, not the process's: with a CPU timer armed, Linux
                        # serves the process clock from a counter updated only at scheduler ticks.
                        start = time.thread_time()
                        result = fn(frame)
                        spent = time.thread_time() - start
                    finally:
                        disarm()
                        _armed = False
                    total += spent
                    worst = max(worst, spent)
                    times.append(spent)
                    if wants_float and isinstance(result, (int, float, np.integer, np.floating)) \
                            and not isinstance(result, (bool, np.bool_)):
                        value = float(result)  # NaN and inf travel as JSON NaN/Infinity; the caller judges range
                        issue = None
                    elif wants_float:
                        issue = Issue("CV304", f"{fn_name}(obs) returned {type(result).__name__} "
                                      f"{_short(result)}, not a number", None, None,
                                      "return float(...)", fn_name)
                    elif isinstance(result, (bool, np.bool_)):
                        value = bool(result)
                        issue = None
                    else:
                        issue = Issue("CV304", f"{fn_name}(obs) returned {type(result).__name__} "
                                      f"{_short(result)}, not a truth value", None, None,
                                      "return bool(...) or a comparison", fn_name)
                except BaseException as exc:  # noqa: BLE001
                    issue = _issue_for(exc, f"{fn_name}(obs)", fn_name)
                if zlib.crc32(frame.data) != before and issue is None:
                    issue = Issue("CV305", f"{fn_name}(obs) modified its input", None, None, None, fn_name)
                os.write(_OUT, b"+")
                values.append(value)
                if issue is not None:
                    errors += 1
                    if first is None:
                        first = issue._replace(message=issue.message + f" (frame {index})")
                        first_index = index
                    if stop_on_error or issue.code == "CV302":
                        break
            out["values"][fn_name] = values
            out["issues"][fn_name] = None if first is None else {**first.to_json(), "frame": first_index}
            out["errors"][fn_name] = errors
            out["seconds"][fn_name] = total
            out["max_seconds"][fn_name] = worst
            out["times"][fn_name] = times
        return out


_native_loader = None
_native = None        # sandbox.native, imported before privileges drop (native mode only)
_helper_cache = None  # sandbox.helper_cache, likewise


def _import_native(helper_cache_dir: str | None) -> None:
    global _native_loader, _native, _helper_cache
    from sandbox import helper_cache, native
    _native_loader = native.load_native
    _native, _helper_cache = native, helper_cache
    # Read while this process may still read the cache directory; it never writes it.
    helper_cache.install(helper_cache_dir, writable=False)


def compile_batch(program: Program, fns: list[str], frames: np.ndarray) -> dict:
    """Compile every requested function for the type of one frame, in one batch.

    One CPU-time deadline (limits.compile_seconds) covers the whole batch: helpers and
    functions shared by several checks compile once, and a slow machine does not shorten
    the budget, since ITIMER_PROF counts only the CPU this process gets.  Returns
    {"issues": name -> CV601 issue or None, "cpu_seconds": ..., "helpers": cache report}.
    """
    global _armed
    signal.signal(TIMER_SIGNAL, _on_alarm)
    signature = (_native._frame_type(frames),)
    lines = getattr(program, "function_lines", {})
    budget = program.limits.compile_seconds
    start = time.process_time()
    issues = {}
    for name in fns:
        dispatcher = program.functions.get(name)
        issues[name] = None
        if dispatcher is None or signature in dispatcher.overloads:
            continue  # unknown names fail in the call loop as they do in restricted mode
        left = budget - (time.process_time() - start)
        try:
            if left <= 0:
                raise CallTimeout()
            try:
                _armed = True
                # Repeats: a signal landing in one of llvmlite's ctypes callbacks is swallowed.
                arm(left, 0.25)
                dispatcher.compile(signature)
            finally:
                disarm()
                _armed = False
        except CallTimeout:
            issues[name] = Issue("CV601", f"{name}: numba did not finish compiling it within {budget:g} s of CPU "
                                 "time", lines.get(name), None, "simplify the check: fewer, smaller functions", name)
        except MemoryError:
            issues[name] = Issue("CV601", f"{name}: numba ran out of memory compiling it", lines.get(name),
                                 None, "simplify the check", name)
        except Exception as exc:  # noqa: BLE001 - numba raises many types; all mean "does not compile"
            issues[name] = _native.compile_issue(name, exc, lines)
    # Compiled code never returns to the interpreter mid-call, so the Python handler could
    # not stop a runaway check: during calls the CPU timer's signal terminates the child
    # instead (its default action), which the parent reports as a timeout.
    signal.signal(TIMER_SIGNAL, signal.SIG_DFL)
    return {"issues": {n: (None if i is None else i.to_json()) for n, i in issues.items()},
            "cpu_seconds": time.process_time() - start, "helpers": _helper_cache.report()}


def _compile_failures(program: Program, fns: list[str], frames: np.ndarray) -> dict | None:
    # A call request on a native child compiles first (a caller may skip the compile request);
    # a function that does not compile answers in the call format, with no frame run.
    signature = (_native._frame_type(frames),)
    if all(name not in program.functions or signature in program.functions[name].overloads for name in fns):
        return None
    issues = compile_batch(program, fns, frames)["issues"]
    if not any(issues.values()):
        return None
    empty = {name: 0.0 for name in fns}
    return {"values": {name: [] for name in fns},
            "issues": {name: (None if issues.get(name) is None else {**issues[name], "frame": None}) for name in fns},
            "errors": {name: int(issues.get(name) is not None) for name in fns},
            "seconds": empty, "max_seconds": dict(empty)}


def _short(value) -> str:
    try:
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (int, float, str, type(None))):
            return repr(value)[:60]
        return f"of shape {getattr(value, 'shape', '?')}"[:60]
    except BaseException:  # noqa: BLE001 - e.g. an int too long to print
        return "(too large to display)"


def main() -> None:
    # A stray print from our own code must never corrupt the protocol stream.
    sys.stdout = sys.stderr
    signal.signal(TIMER_SIGNAL, _on_alarm)
    sys.setrecursionlimit(400)
    stdin = sys.stdin.buffer
    program = None
    while True:
        line = stdin.readline()
        if not line:
            return
        request = json.loads(line)
        op = request["op"]
        if op == "load":
            limits = Limits(**request["limits"])
            mode = request.get("mode", "restricted")
            if mode == "native":
                _import_native(request.get("helper_cache"))  # everything is imported before privileges drop
            apply_limits(limits, mode)
            program = Program(request["source"], limits, mode)
            _send(program.load(request["source"]))
        elif op == "call":
            shape, dtype = tuple(request["shape"]), np.dtype(request["dtype"])
            raw = _read_exact(stdin, int(np.prod(shape)) * dtype.itemsize)
            frames = np.frombuffer(raw, dtype=dtype).reshape(shape)  # read-only: bytes back it
            if program.mode == "native":
                # numba compiles for the frame's type here, outside the per-call timer.
                failed = _compile_failures(program, request["fns"], frames)
                if failed is not None:
                    _send(failed)
                    continue
            _send(program.call(request["fns"], frames, request.get("stop_on_error", True), request.get("returns")))
        elif op == "compile":
            # No frames travel: the frame type is all numba needs.
            frames = np.empty(tuple(request["shape"]), np.dtype(request["dtype"]))
            frames.setflags(write=False)
            if program.mode != "native":
                _send({"issues": {name: None for name in request["fns"]}, "cpu_seconds": 0.0, "helpers": {}})
            else:
                _send(compile_batch(program, request["fns"], frames))
        elif op == "exit":
            return


if __name__ == "__main__":
    main()
