"""Result objects shared by every stage and every renderer.

Stages return `StageResult`s; `audit` gathers them into an `AuditReport`.
Renderers (text, JSON, JUnit, SARIF, MLflow) only read these objects.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("passed", "failed", "skipped", "error")
VERDICTS = ("accepted", "rejected", "error")
# Findings about carverify's infrastructure, not the program: CV000 (carverify broke) and
# CV604 (a sandbox child stopped by a wall-clock backstop while under every CPU limit).
INFRASTRUCTURE_CODES = frozenset({"CV000", "CV604"})
REPORT_SCHEMA_VERSION = 2   # 2: the audit command writes one document {reports: [...]}; reports say `cached`


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a program, pointing at the user's source."""

    code: str  # stable, e.g. CV201
    message: str
    line: int | None = None
    col: int | None = None
    subtask: str | None = None
    hint: str | None = None
    # Free-form machine-readable facts (counts, seeds, paths of saved counterexamples).
    data: dict[str, Any] = field(default_factory=dict)

    def location(self, path: str = "program.py") -> str:
        if self.line is None:
            return path
        # `col` is stored 0-based as ast gives it; editors and compilers print 1-based.
        return f"{path}:{self.line}:{self.col + 1 if self.col is not None else 1}"

    def render(self, path: str = "program.py") -> str:
        text = f"{self.location(path)} {self.code} {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class StageResult:
    stage: str
    status: str
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    # Checks of this stage that did not run, and why (e.g. no oracle, no coverage states).
    skipped_checks: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        # "failed" means the program is wrong.  A stage that found nothing but infrastructure
        # trouble (e.g. a starved child, CV604) judged nothing: that is an error, whichever
        # stage reports it, so a loaded machine can never turn into a rejection.
        if self.status == "failed" and self.findings and all(
                f.code in INFRASTRUCTURE_CODES for f in self.findings):
            self.status = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
            "metrics": dict(self.metrics),
            "seconds": round(self.seconds, 6),
            **({"skipped_checks": dict(self.skipped_checks)} if self.skipped_checks else {}),
        }


@dataclass
class AuditReport:
    program_path: str
    program_sha256: str
    suite: str
    stages: list[StageResult]
    limits: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    artifacts: dict[str, str] = field(default_factory=dict)
    cached: bool = False   # returned from the audit cache, not audited in this run

    @property
    def verdict(self) -> str:
        statuses = {s.status for s in self.stages}
        if "error" in statuses:
            return "error"
        if "failed" in statuses:
            return "rejected"
        return "accepted"

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.stages for f in s.findings]

    def stage(self, name: str) -> StageResult | None:
        return next((s for s in self.stages if s.stage == name), None)

    def to_dict(self) -> dict[str, Any]:
        from carverify import __version__

        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "tool": {"name": "carverify", "version": __version__},
            "verdict": self.verdict,
            "program": {"path": self.program_path, "sha256": self.program_sha256},
            "suite": self.suite,
            "limits": dict(self.limits),
            "seconds": round(self.seconds, 6),
            "stages": [s.to_dict() for s in self.stages],
            "artifacts": dict(self.artifacts),
            "cached": self.cached,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AuditReport":
        """The report `to_dict` wrote (a stored audit); findings and stages come back as objects."""
        stages = [StageResult(s["stage"], s["status"], [Finding(**f) for f in s["findings"]],
                              dict(s["metrics"]), float(s["seconds"]), dict(s.get("skipped_checks", {})))
                  for s in data["stages"]]
        return cls(program_path=data["program"]["path"], program_sha256=data["program"]["sha256"],
                   suite=data["suite"], stages=stages, limits=dict(data["limits"]),
                   seconds=float(data["seconds"]), artifacts=dict(data["artifacts"]),
                   cached=bool(data.get("cached", False)))
