"""Native mode of the sandbox child: the program's functions compiled by numba (nopython).

Runs only inside the sandbox child (sandbox/child.py, mode "native").  The child
becomes uid nobody after loading and can no longer read the interpreter's stdlib,
so this module imports numba and warms its compiler up at import time, which the
child does before it drops privileges.

Why plain `compile()` and the real numpy module are acceptable here: the program's
functions never run as Python; numba compiles them to machine code (nopython: no
interpreter objects reachable) and the policy has already limited every name,
attribute and keyword the source can spell.  Module-level code is constants only.
Bounds checking is on (`boundscheck=True`), so an out-of-range index raises
IndexError like NumPy instead of reading or writing outside the array; the same
flags are used for training (carverify/compiled.py), so the audited code is the
deployed code.  numba's on-disk cache is off: the child has RLIMIT_FSIZE = 0.
"""
from __future__ import annotations

import builtins
import re
import signal

import numpy as np

import numba
from numba.core import errors as numba_errors

from sandbox import allowlist
from sandbox.issue import Issue

PROGRAM_FILE = "program.py"
# Shared with carverify/compiled.py: the audited and the deployed code compile alike.
JIT_OPTIONS = {"cache": False, "boundscheck": True, "nogil": False}


def _warm_up() -> None:
    # The first compile loads most of numba's typing/lowering registries (and modules
    # they pull from the stdlib and scipy); doing it now keeps later compiles import-free.
    def probe(obs):
        m = obs[:, :, 0].astype(np.int32) + obs[0, 0, 1]
        t = 0
        for y in range(obs.shape[0]):
            t += int(obs[y, 0, 2])
        return bool((m > 3).any()) and np.count_nonzero(m) > t and len([t, 1]) > 0

    frame = np.zeros((8, 8, 3), np.uint8)
    frame.setflags(write=False)
    numba.njit(**JIT_OPTIONS)(probe)(frame)

    def probe_vector(obs):
        return bool(np.abs(obs).sum() > 1.0) and obs.max() >= obs.mean()

    vector = np.zeros(4)
    vector.setflags(write=False)
    numba.njit(**JIT_OPTIONS)(probe_vector)(vector)


_warm_up()


def _import_numpy(name, globals=None, locals=None, fromlist=(), level=0):
    # Module-level code may only `import numpy [as np]` (the policy checked it).
    if name == "numpy" and level == 0 and not fromlist:
        return np
    raise ImportError(f"import of {name!r} is not allowed")


def _builtins() -> dict:
    table = {name: getattr(builtins, name) for name in allowlist.BUILTINS}
    table.update({"True": True, "False": False, "None": None, "__import__": _import_numpy})
    return table


def load_native(program, tree, info) -> dict:
    """Exec the normalized module with real numpy, then replace each function by its jitted twin.

    Nothing is compiled yet: the observation type is known only at the first call
    (see `compile_for`).  All functions share one globals dict, so a sub-task that
    calls a helper resolves the jitted helper when it is compiled.
    """
    code = compile(tree, PROGRAM_FILE, "exec")
    program.globals = {"__builtins__": _builtins(), "__name__": "reward_program"}
    issue = program._run_module(code)
    if issue is not None:
        return {"ok": False, "issues": [issue.to_json()]}
    for name in info.functions:
        fn = program.globals.get(name)
        if callable(fn):
            program.globals[name] = numba.njit(**JIT_OPTIONS)(fn)
    program.function_lines = dict(info.functions)
    return program._finish_load(info)


def compile_for(program, fns, frames) -> dict | None:
    """Compile each requested function for the type of one frame, before any call runs.

    Runs outside the per-call alarm (compiling takes far longer than a call may);
    bounded instead by the load limit.  Returns None when everything compiled, else
    a reply in the call format carrying one CV601 per failing function.
    """
    from sandbox import child  # the running child module: its alarm flag and timeout

    if len(frames) == 0:
        return None
    signature = (numba.typeof(frames[0]),)
    failures = {}
    for name in fns:
        dispatcher = program.functions.get(name)
        if dispatcher is None or signature in dispatcher.overloads:
            continue  # unknown names fail in the call loop as they do in restricted mode
        try:
            try:
                child._armed = True
                signal.setitimer(signal.ITIMER_REAL, program.limits.load_seconds)
                dispatcher.compile(signature)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                child._armed = False
        except child.CallTimeout:
            failures[name] = Issue("CV601", f"{name}: numba took longer than {program.limits.load_seconds:g} s "
                                   "to compile it", None, None, "simplify the check", name)
        except MemoryError:
            failures[name] = Issue("CV601", f"{name}: numba ran out of memory compiling it", None, None,
                                   "simplify the check", name)
        except Exception as exc:  # noqa: BLE001 - numba raises many types; all mean "does not compile"
            failures[name] = compile_issue(name, exc, getattr(program, "function_lines", {}))
    if not failures:
        return None
    empty = {name: 0.0 for name in fns}
    return {"values": {name: [] for name in fns},
            "issues": {name: (None if name not in failures else {**failures[name].to_json(), "frame": None})
                       for name in fns},
            "errors": {name: int(name in failures) for name in fns},
            "seconds": empty, "max_seconds": dict(empty)}


# -- readable compile errors --------------------------------------------------------
_FILE_LINE = re.compile(r'File "' + re.escape(PROGRAM_FILE) + r'", line (\d+)')
_REJECTED = re.compile(r"Rejected as the implementation raised a specific error:\s*\n\s*(?:\w+: )?(.+)")
_NO_IMPL = re.compile(r"No implementation of function (.+?) found for signature:\s*\n[\s\n]*>>> (.+)")
_NOISE = ("Failed in ", "During:", "File \"", "<source", "raised from", "There are ", "- Of which",
          "Overload", "With argument", "No match", "This error may have been caused",
          "For more information", "If you see this", "^")


def compile_issue(name: str, exc: BaseException, function_lines: dict[str, int]) -> Issue:
    """One readable line from numba's multi-screen error, pointing at the program's line."""
    text = str(exc)
    lines = [int(n) for n in _FILE_LINE.findall(text)]
    loc = getattr(exc, "loc", None)
    # numba prints the innermost location first (a helper's line before its caller's).
    line = lines[0] if lines else getattr(loc, "line", None)
    where = _function_at(line, function_lines)
    reason = _reason(text) or type(exc).__name__
    inside = f" (in {where})" if where and where != name else ""
    return Issue("CV601", f"{name}: numba nopython cannot compile it{inside}: {reason}", line, None,
                 "use numpy arrays and tuples, not lists of lists or dicts; only numpy features numba "
                 "supports (see numba's 'Supported NumPy features')", name)


def _reason(text: str) -> str | None:
    rejected = _REJECTED.findall(text)
    if rejected:
        return _tidy(rejected[-1])
    missing = _NO_IMPL.search(text)
    if missing:
        what = re.sub(r"^Function\(<(?:built-in )?function (\w+).*", r"\1", missing.group(1))
        return _tidy(f"no implementation of {what} for {missing.group(2)}")
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith(_NOISE):
            return _tidy(line)
    return None


def _tidy(text: str) -> str:
    text = re.sub(r"<iv=[^>]*>", "", text)          # numba's initial-value annotations
    text = re.sub(r" at 0x[0-9a-f]+", "", text)     # addresses differ per run
    text = re.sub(r"\s+", " ", text).strip()
    return text[:240]


def _function_at(line: int | None, function_lines: dict[str, int]) -> str | None:
    if line is None:
        return None
    before = [(start, fn) for fn, start in function_lines.items() if start <= line]
    return max(before)[1] if before else None
