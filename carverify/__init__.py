"""carverify: make reward code written by vision-language models safe, correct and fast.

    from carverify import audit, load_suite, CodeReward, AuditReport

    report: AuditReport = audit("program.py", "minigrid-doorkey-5x5")   # or a suite folder
    if report.verdict == "accepted":
        suite = load_suite("minigrid-doorkey-5x5")
        env = CodeReward(suite.make_env(), suite, open("program.py").read(), report)
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# First, before any import below: modules read it while this package is still importing.
__version__ = "0.1.0"

from carverify import audit as _audit_module  # noqa: E402  (the module; `carverify.audit` is the function below)
from carverify.result import AuditReport  # noqa: E402

if TYPE_CHECKING:
    from carverify.config import AuditConfig
    from carverify.deploy.reward import CodeReward
    from carverify.suite import Suite

__all__ = ["AuditReport", "CodeReward", "__version__", "audit", "load_suite"]


def audit(program: str | os.PathLike, suite: "str | os.PathLike | Suite", *, stages=None,
          config: "AuditConfig | None" = None) -> AuditReport:
    """Audit one reward program against a suite (a name, a suite folder, or a Suite).

    `program` is the path of a .py file, or the program's source (text holding a newline).
    """
    if not isinstance(suite, str) and isinstance(suite, os.PathLike):
        suite = os.fspath(suite)
    if isinstance(program, str) and "\n" in program:
        return _audit_module.audit_source(program, suite, stages=stages, config=config)
    return _audit_module.audit_file(program, suite, stages=stages, config=config)


def load_suite(name: str | os.PathLike) -> "Suite":
    """A suite by name (CARVERIFY_SUITES, then the bundled suites) or by the path of its folder."""
    from carverify.suite import load_suite as load

    return load(name)


def __getattr__(name: str) -> Any:
    # CodeReward pulls in gymnasium and the reward worker: only when asked for.
    if name == "CodeReward":
        from carverify.deploy.reward import CodeReward

        return CodeReward
    raise AttributeError(f"module 'carverify' has no attribute {name!r}")
