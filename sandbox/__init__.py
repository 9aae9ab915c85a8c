"""Default-deny sandbox for reward programs: caps, AST allowlist, RestrictedPython, child process.

Stdlib, numpy and RestrictedPython only; imports nothing from carverify.
"""
from sandbox.issue import Issue
from sandbox.limits import Limits
from sandbox.source import UnreadableSource, parse_source, read_source
from sandbox.policy import ProgramInfo, check_policy
from sandbox.runner import CallBatch, CompileResult, Sandbox, SandboxPool, use_helper_cache

__all__ = [
    "CallBatch", "CompileResult", "Issue", "Limits", "ProgramInfo", "Sandbox", "SandboxPool",
    "UnreadableSource", "check_policy", "parse_source", "read_source", "use_helper_cache",
]
