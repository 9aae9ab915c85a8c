"""carverify: make reward code written by vision-language models safe, correct and fast.

    from carverify import audit, load_suite, CodeReward, AuditReport

    report: AuditReport = audit("program.py", "minigrid-doorkey-5x5")   # or a suite folder
    if report.verdict == "accepted":
        suite = load_suite("minigrid-doorkey-5x5")
        env = CodeReward(suite.make_env(), suite, open("program.py").read(), report)
"""
from __future__ import annotations

import importlib
import os
import sys
import types
from typing import TYPE_CHECKING, Any

# First, before any import below: modules read it while this package is still importing.
__version__ = "0.1.0"

if TYPE_CHECKING:
    from carverify.config import AuditConfig
    from carverify.deploy.reward import CodeReward
    from carverify.result import AuditReport
    from carverify.suite import Suite


class _Package(types.ModuleType):
    """carverify itself.  Importing the carverify.audit module (the stages' runner) would set
    `carverify.audit` to that module; the front door's audit() function keeps the name.  The
    module stays importable as before: `from carverify.audit import audit_source`."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "audit" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["AuditReport", "CodeReward", "__version__", "audit", "load_suite"]


def audit(program: str | os.PathLike, suite: "str | os.PathLike | Suite", *, stages=None,
          config: "AuditConfig | None" = None) -> "AuditReport":
    """Audit one reward program against a suite (a name, a suite folder, or a Suite).

    `program` is the path of a .py file, or the program's source (text holding a newline).
    """
    runner = importlib.import_module("carverify.audit")   # imported on use: `import carverify` stays light
    if not isinstance(suite, str) and isinstance(suite, os.PathLike):
        suite = os.fspath(suite)
    if isinstance(program, str) and "\n" in program:
        return runner.audit_source(program, suite, stages=stages, config=config)
    return runner.audit_file(program, suite, stages=stages, config=config)


def load_suite(name: str | os.PathLike) -> "Suite":
    """A suite by name (CARVERIFY_SUITES, then the bundled suites) or by the path of its folder."""
    from carverify.suite import load_suite as load

    return load(name)


def __getattr__(name: str) -> Any:
    # Imported when asked for: CodeReward pulls in gymnasium and the reward worker.
    if name == "CodeReward":
        from carverify.deploy.reward import CodeReward

        return CodeReward
    if name == "AuditReport":
        from carverify.result import AuditReport

        return AuditReport
    raise AttributeError(f"module 'carverify' has no attribute {name!r}")
