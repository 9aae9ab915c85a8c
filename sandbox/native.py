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

import re
import signal
import time
import traceback

import numpy as np

import numba
from numba.core import errors as numba_errors

from sandbox import allowlist, numba_compat
from sandbox.guards import make_builtins
from sandbox.issue import Issue

PROGRAM_FILE = "program.py"
# Shared with carverify/compiled.py: the audited and the deployed code compile alike.
JIT_OPTIONS = {"cache": False, "boundscheck": True}
# One deadline for compiling the checks of one call request (the compile stage sends
# one per sub-task): under the 30 s the parent (sandbox/runner.py) waits for a call's
# first progress byte, so our message wins.
COMPILE_SECONDS = 25.0


def _warm_up() -> None:
    # numba loads its typing and lowering registries (and the stdlib and scipy modules they
    # pull in) on first use; they must be loaded before the child drops privileges and can
    # no longer read them.  Refreshing both contexts imports all of them: the modules
    # loaded afterwards are exactly those a full compile of array-heavy probes loads
    # (compared with sys.modules), at 0.8 s of CPU instead of 4.5 s spent in LLVM on probe
    # code no program uses.  Two tiny compiles then start the code generator and
    # numba's runtime for frames and for state vectors.
    from numba.core.registry import cpu_target

    cpu_target.typing_context.refresh()
    cpu_target.target_context.refresh()
    frame = np.zeros((8, 8, 3), np.uint8)
    frame.setflags(write=False)
    numba.njit(**JIT_OPTIONS)(lambda obs: obs[0, 0, 0] > 3)(frame)
    vector = np.zeros(4)
    vector.setflags(write=False)
    numba.njit(**JIT_OPTIONS)(lambda obs: obs[0] > 1.0)(vector)


_warm_up()


def _import_numpy(name, globals=None, locals=None, fromlist=(), level=0):
    # Module-level code may only `import numpy [as np]` (the policy checked it).
    if name == "numpy" and level == 0 and not fromlist:
        return np
    raise ImportError(f"import of {name!r} is not allowed")




def for_numba(tree, info):
    """The normalized tree with the idioms numba rejects spelled its way (sandbox/numba_compat.py).

    Raises numba_compat.Refused for a construct the compiled twin cannot give Python's meaning.
    """
    # The framework calls the sub-task checks and progress with the observation.
    entry_points = tuple(info.subtasks) + ("progress",)
    return numba_compat.rewrite(tree, info.numpy_aliases, info.functions, entry_points)


def load_native(program, tree, info) -> dict:
    """Exec the normalized module with real numpy, then replace each function by its jitted twin.

    Nothing is compiled yet: the observation type is known only at the first call
    (see `compile_for`).  All functions share one globals dict, so a sub-task that
    calls a helper resolves the jitted helper when it is compiled.
    """
    try:
        code = compile(for_numba(tree, info), PROGRAM_FILE, "exec")
    except numba_compat.Refused as refused:
        return {"ok": False, "issues": [refused.issue.to_json()]}
    program.globals = {"__builtins__": make_builtins(_import_numpy), "__name__": "reward_program",
                       **numba_compat.HELPERS}
    issue = program._run_module(code)
    if issue is None:
        issue = wide_constant(program.globals, info)
    if issue is not None:
        return {"ok": False, "issues": [issue.to_json()]}
    for name in info.functions:
        fn = program.globals.get(name)
        if callable(fn):
            program.globals[name] = numba.njit(**JIT_OPTIONS)(fn)
    numba_compat.jit_generated(program.globals, numba.njit(**JIT_OPTIONS))
    program.function_lines = dict(info.functions)
    return program._finish_load(info)


def wide_constant(namespace: dict, info) -> Issue | None:
    """A module constant holding an integer outside int64 (CV215).

    Python computed it exactly (BIG = 10 ** 19); numba would hand the compiled checks a
    uint64, a float or nothing at all.  The policy catches such literals; this catches
    the computed ones, by value.
    """
    for name in sorted(info.constants):
        found = _wide(namespace.get(name))
        if found is not None:
            return Issue("CV215", f"module constant '{name}' holds the integer {found}, which does not fit in 64 bits",
                         None, None, "compiled code has 64-bit integers: write it as a float or keep integers "
                         "within ±9.2e18")
    return None


def _wide(value, depth: int = 0):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if not -2 ** 63 <= value < 2 ** 63 else None
    if isinstance(value, (tuple, list)) and depth < 8:
        return next((w for w in (_wide(v, depth + 1) for v in value) if w is not None), None)
    if isinstance(value, dict) and depth < 8:
        return next((w for w in (_wide(v, depth + 1) for v in value.values()) if w is not None), None)
    if isinstance(value, slice):
        return _wide((value.start, value.stop, value.step), depth + 1)
    return None


def compile_for(program, fns, frames) -> dict | None:
    """Compile each requested function for the type of one frame, before any call runs.

    Runs outside the per-call alarm (compiling takes far longer than a call may),
    under one deadline for the whole request instead.  Returns None when everything
    compiled, else a reply in the call format carrying one CV601 per failing function.
    """
    from sandbox import child  # the running child module: its alarm flag and timeout

    signal.signal(signal.SIGALRM, child._on_alarm)
    signature = (_frame_type(frames),)
    lines = getattr(program, "function_lines", {})
    deadline = time.monotonic() + COMPILE_SECONDS
    failures = {}
    for name in fns:
        dispatcher = program.functions.get(name)
        if dispatcher is None or signature in dispatcher.overloads:
            continue  # unknown names fail in the call loop as they do in restricted mode
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise child.CallTimeout()
            try:
                child._armed = True
                # Repeats: an alarm landing in one of llvmlite's ctypes callbacks is swallowed.
                signal.setitimer(signal.ITIMER_REAL, left, 0.25)
                dispatcher.compile(signature)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                child._armed = False
        except child.CallTimeout:
            failures[name] = Issue("CV601", f"{name}: numba did not finish compiling it within {COMPILE_SECONDS:g} s",
                                   lines.get(name), None, "simplify the check: fewer, smaller functions", name)
        except MemoryError:
            failures[name] = Issue("CV601", f"{name}: numba ran out of memory compiling it", lines.get(name),
                                   None, "simplify the check", name)
        except Exception as exc:  # noqa: BLE001 - numba raises many types; all mean "does not compile"
            failures[name] = compile_issue(name, exc, lines)
    if not failures:
        # Compiled code never returns to the interpreter mid-call, so the Python alarm
        # handler could not stop a runaway check: during the calls that follow, the
        # per-call alarm terminates the child instead (the parent reports SIGALRM).
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        return None
    empty = {name: 0.0 for name in fns}
    return {"values": {name: [] for name in fns},
            "issues": {name: (None if name not in failures else {**failures[name].to_json(), "frame": None})
                       for name in fns},
            "errors": {name: int(name in failures) for name in fns},
            "seconds": empty, "max_seconds": dict(empty)}


def _frame_type(frames):
    # The type of frames[i] (C-contiguous, read-only), known even for an empty batch,
    # so a call with no frames compiles without running anything.
    batch = numba.typeof(frames)
    return batch.copy(ndim=batch.ndim - 1, layout="C")


# -- readable compile errors --------------------------------------------------------
# numba's message is a nested report, innermost failure first; we keep what failed
# (the callee), why (numba's own one-line reason) and where (the program's line).
_FILE_LINE = re.compile(r'File "' + re.escape(PROGRAM_FILE) + r'", line (\d+)')
_REJECTED = re.compile(r"Rejected as the implementation raised a specific error:\s*\n\s*(?:\w+: )?(.+)")
_RESOLUTION = re.compile(r"- Resolution failure for (?:non-)?literal arguments:\s*\n\s*(.+)")
_NO_IMPL = re.compile(r"No implementation of function (.+?) found for signature:\s*\n[\s\n]*>>> (.+)")
# A method: "BoundFunction(array.reshape for ...)" or "BoundFunction((<class '...Array'>, 'mean') for ...)".
_BOUND = re.compile(r"resolving callee type: BoundFunction\((?:\(<class '[\w.]*?(\w+)'>, '(\w+)'\)|(\w+)\.(\w+)) for")
_CALLEE = re.compile(r"resolving callee type: Function\(<(?:built-in )?function (\w+)")
_FUNCTION = re.compile(r"Function\(<(?:built-in )?function (\w+)")
_OPERATORS = {"setitem": "item assignment", "getitem": "indexing", "static_setitem": "item assignment",
              "static_getitem": "indexing"}
_NOISE = ("Failed in ", "During:", "File \"", "<source", "raised from", "There are ", "- Of which",
          "Overload", "With argument", "No match", "This error may have been caused", "- Resolution",
          "For more information", "If you see this", "^", ">>>", "No implementation of function")
_HINTS = (
    ("yield", "generator expressions compile only as the argument of any, all, sum, max, min, sorted or "
              "list: use a list comprehension or a for loop"),
    ("axis", ".any/.all/.max/.min/.mean/.sum(axis=k) compile for one integer axis, without keepdims: "
             "reduce one axis at a time, e.g. .max(axis=3).max(axis=1)"),
    ("contiguous", "numba reshapes only contiguous arrays: call .copy() on the slice before .reshape()"),
    ("forbidden", "numba cannot store lists in a dict or nest lists freely: use numpy arrays or tuples"),
    ("reflected", "numba cannot store lists in a dict or nest lists freely: use numpy arrays or tuples"),
    ("Cannot unify", "give each variable one type on every path: numba infers static types"),
    ("Untyped global", "name only numpy, the program's functions and its constants"),
    ("Unknown attribute", "numba does not support this attribute or method: see numba's 'Supported NumPy features'"),
    ("Cannot modify readonly", "work on a copy: m = obs.copy()"),
    ("idxty.ndim", "numba assigns through a boolean mask only when the mask is 1-D: use m = np.where(mask, v, m)"),
    *((key, "a dict whose values have different shapes is read with a key numba cannot know when it compiles: "
            "call the function with literal keys, or loop over the dict's .items()")
      for key in ("Cannot request literal type", "numba needs the key when it compiles")),
)
_DEFAULT_HINT = ("numba's nopython mode compiles a subset of Python and NumPy: see numba's 'Supported Python "
                 "features' and 'Supported NumPy features'")


def compile_issue(name: str, exc: BaseException, function_lines: dict[str, int]) -> Issue:
    """One readable line from numba's multi-screen error, pointing at the program's line."""
    text = str(exc)
    found = [int(n) for n in _FILE_LINE.findall(text)]
    line = found[0] if found else _traceback_line(exc)   # innermost location first
    where = _function_at(line, function_lines)
    if isinstance(exc, numba_errors.NumbaError):
        reason = _reason(text) or type(exc).__name__
    else:  # a failure inside numba's own compiler, e.g. an assertion on an unsupported index
        reason = f"numba's compiler failed ({type(exc).__name__}{_origin(exc)})"
    reason = _as_written(reason)
    inside = f" (in {where})" if where and where != name else ""
    hint = next((h for key, h in _HINTS if key in text or key in reason), _DEFAULT_HINT)
    untyped = re.search(r"Untyped global name '(\w+)'", text)
    if untyped and untyped.group(1) in allowlist.BUILTINS:  # e.g. all, any, reversed
        hint = f"numba does not support the builtin {untyped.group(1)}(): write the loop out"
    return Issue("CV601", f"{name}: numba nopython cannot compile it{inside}: {reason}",
                 line or function_lines.get(where or name), None, hint, name)


_HELPER_NAMES = ((re.compile(r"__cv_(\w+)_axis"), r".\1(axis=...)"), (re.compile(r"__cv_(any|all)_of"), r"\1()"),
                 (re.compile(r"__cv_contiguous"), ".reshape()"), (re.compile(r"__cv_setitem"), "item assignment"),
                 (re.compile(r"__cv_seq_eq"), "tuple(...) =="), (re.compile(r"__cv_seq_in"), "tuple(...) in"),
                 (re.compile(r"__cv_int\b"), "int()"), (re.compile(r"__cv_round\b"), "round()"),
                 (re.compile(r"__cv_neg\b"), "unary -"),
                 (re.compile(r"__cv_norm(_axis)?"), "np.linalg.norm()"),
                 (re.compile(r"__cv_clip"), "np.clip()"), (re.compile(r"__cv_(isclose|allclose)"), r"np.\1()"),
                 (re.compile(r"__cv_dtype_(\w+)"), r"\1"),
                 (re.compile(r"__cv_d_(\w+?)_(item|get)\b"), r"\1[...]"),
                 (re.compile(r"__cv_d_(\w+?)_(keys|values|items)\b"), r"\1.\2()"),
                 (re.compile(r"__cv_unroll"), "a loop over a dict"), (re.compile(r"__cv_literally"), "a dict key"),
                 *((re.compile(rf"__cv_i{name}_[pn][pn]\b"), f"operator {symbol}=")
                   for name, symbol in numba_compat.ARITH_OPS.values()),
                 *((re.compile(rf"__cv_{name}(_[pn][pn])?\b"), f"operator {symbol}")
                   for name, symbol in [*numba_compat.ARITH_OPS.values(), *numba_compat.COMPARE_OPS.values()]))


def _as_written(reason: str) -> str:
    """Name the program's own spelling, not the numba_compat helper it was rewritten to."""
    for pattern, spelling in _HELPER_NAMES:
        reason = pattern.sub(spelling, reason)
    return reason


def _reason(text: str) -> str | None:
    callee = _callee(text)
    detail = _REJECTED.findall(text) or _RESOLUTION.findall(text)
    if detail:
        reason = detail[-1]
    else:
        missing = _NO_IMPL.search(text)
        if missing:
            return _tidy(f"no implementation of {callee or 'this call'} for {missing.group(2)}")
        reason = next((line.strip() for line in text.splitlines()
                       if line.strip() and not line.strip().startswith(_NOISE)), None)
        if reason is None:
            return None
        callee = None  # the line speaks for itself ("Unknown attribute ...", "Cannot unify ...")
    if callee and callee.split(".")[-1].rstrip("()") not in reason:
        reason = f"{callee}: {reason}"
    return _tidy(reason)


def _callee(text: str) -> str | None:
    bound = _BOUND.search(text)
    if bound:
        owner, method = (bound.group(1), bound.group(2)) if bound.group(1) else (bound.group(3), bound.group(4))
        return f"{owner.lower()}.{method}()"
    function = _CALLEE.search(text) or _FUNCTION.search(text)
    if function is None:
        return None
    name = function.group(1)
    if name in _OPERATORS:
        return _OPERATORS[name]
    return f"np.{name}()" if name in allowlist.NUMPY_FUNCTIONS else f"{name}()"


def _tidy(text: str) -> str:
    text = re.sub(r"<iv=[^>]*>", "", text)          # numba's initial-value annotations
    text = re.sub(r" at 0x[0-9a-f]+", "", text)     # addresses differ per run
    text = re.sub(r"\s+", " ", text).strip()
    return text[:240]


def _traceback_line(exc: BaseException) -> int | None:
    # Internal errors carry no message location; numba's lowering frames hold the IR
    # instruction being compiled, whose .loc names the program's line.
    line, tb = None, exc.__traceback__
    while tb is not None:
        for value in (tb.tb_frame.f_locals.get("inst"), tb.tb_frame.f_locals.get("loc")):
            loc = getattr(value, "loc", value)
            if getattr(loc, "filename", None) == PROGRAM_FILE and getattr(loc, "line", None):
                line = loc.line
        tb = tb.tb_next
    return line


def _origin(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    path = last.filename.split("site-packages/")[-1]
    return f" at {path}:{last.lineno}: {last.line}" if last.line else f" at {path}:{last.lineno}"


def _function_at(line: int | None, function_lines: dict[str, int]) -> str | None:
    if line is None:
        return None
    before = [(start, fn) for fn, start in function_lines.items() if start <= line]
    return max(before)[1] if before else None
