"""The compiled twin of an ACCEPTED program: its sub-task checks as numba machine code.

This is the one place where a program's code is compiled outside the sandbox, by
design: a reward is called at every environment step, and a sandbox child per step (a
pipe round trip and JSON per call) would cost more than the environment itself.  It is
acceptable only because the program has been audited: the caller passes the sha256 of
an accepted AuditReport, and we refuse any source whose hash differs (`UsageError:
program changed since its audit`) or that no longer passes the parse and policy stages.
What then runs:

- module level: constants only (the policy allows nothing else), executed with
  minimal builtins and an `__import__` that yields numpy and nothing else;
- every function: numba nopython machine code with the very options the audit's
  compile stage checked (sandbox.native.JIT_OPTIONS, bounds checking on), so the
  deployed code is the audited code.  The functions never run as Python.

Training calls these checks only inside the reward worker (carverify/deploy/worker.py):
an input the audit never met can still make a check slow, raise or allocate, and
compiled code cannot be interrupted in the process that runs it.  Each check receives a
read-only view of the observation, as in the audit, so numba selects the same
specialisation the audit compiled.  Results are cached in process by program hash.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Callable

import numpy as np

from carverify.errors import UsageError

_CACHE: dict[str, dict[str, Callable]] = {}
_PROGRESS: dict[str, Callable | None] = {}   # the optional dense term, by program hash
_LOCK = threading.Lock()


def checked_program(source: str):
    """(tree, ProgramInfo) of a program that passes parse and policy, else UsageError (no code runs)."""
    from sandbox import check_policy, parse_source

    tree, issues = parse_source(source)
    info = None
    if tree is not None:
        info, issues = check_policy(tree)
    if issues:
        raise UsageError(f"program does not pass the policy: {issues[0].code} {issues[0].message}")
    return tree, info


def compile_accepted(source: str, report_sha256: str) -> dict[str, Callable]:
    """SUBTASKS name -> check(obs) -> bool, in SUBTASKS order; compiled on first call per obs type."""
    from sandbox.normalize import normalize

    tree, info = checked_program(source)
    digest = hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()
    if digest != str(report_sha256).lower():
        raise UsageError(f"program changed since its audit (sha256 {digest[:12]}…, "
                         f"audited {str(report_sha256)[:12]}…): audit it again")
    with _LOCK:
        cached = _CACHE.get(digest)
        if cached is None:
            cached, _PROGRESS[digest] = _build(normalize(tree), info)
            _CACHE[digest] = cached
    return dict(cached)


def compile_progress(source: str, report_sha256: str) -> Callable | None:
    """The accepted program's progress(obs) -> float, compiled like its checks; None if it has none."""
    compile_accepted(source, report_sha256)  # the same parse, policy and hash checks
    return _PROGRESS.get(hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest())


def _build(tree, info) -> dict[str, Callable]:
    import numba

    from sandbox import native  # JIT options and builtins shared with the audited compile
    from sandbox.guards import freeze_constants, make_builtins

    from sandbox.numba_compat import HELPERS, jit_generated

    namespace = {"__builtins__": make_builtins(native._import_numpy), "__name__": "reward_program", **HELPERS}
    exec(compile(native.for_numba(tree, info), native.PROGRAM_FILE, "exec"), namespace)  # noqa: S102 - audited constants only
    freeze_constants(namespace)  # as in the sandbox child
    for name in info.functions:
        namespace[name] = numba.njit(**native.JIT_OPTIONS)(namespace[name])
    jit_generated(namespace, numba.njit(**native.JIT_OPTIONS))
    progress = None
    if "progress" in info.functions and "progress" not in info.subtasks:
        progress = _check("progress", namespace["progress"], float)
    return {name: _check(name, namespace[name]) for name in info.subtasks}, progress


def _check(name: str, dispatcher, kind=bool) -> Callable:
    def check(obs):
        # A contiguous read-only view: the type the audit compiled, and the caller's array stays untouched.
        view = np.ascontiguousarray(obs).view()
        view.setflags(write=False)
        return kind(dispatcher(view))

    check.__name__ = check.__qualname__ = name
    check.dispatcher = dispatcher  # for callers that want to compile eagerly: check.dispatcher.compile(sig)
    return check


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()
        _PROGRESS.clear()


def frame_signature(frame: np.ndarray):
    """numba's argument types for a check called on `frame` (C-contiguous, read-only), for eager compiles."""
    import numba

    view = np.ascontiguousarray(frame).view()
    view.setflags(write=False)
    return (numba.typeof(view),)
