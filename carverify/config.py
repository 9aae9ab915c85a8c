"""Audit configuration: limits and knobs every stage reads."""
from __future__ import annotations

from dataclasses import dataclass, field

from sandbox import Limits, SandboxPool

STAGES = ("parse", "policy", "restricted", "properties", "trajectories", "compile", "coverage")


@dataclass
class AuditConfig:
    limits: Limits = field(default_factory=Limits)
    pool: SandboxPool | None = None      # pre-started children for batch audits
    max_suite_frames: int = 256
    hypothesis_examples: int = 60
    artifacts_dir: str | None = None     # where counterexamples are saved
