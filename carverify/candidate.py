"""A program under audit: its source plus what earlier stages learned about it."""
from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field

from sandbox import Limits, ProgramInfo, Sandbox, SandboxPool


@dataclass
class Candidate:
    source: str
    path: str = "program.py"
    tree: ast.Module | None = None        # set by the parse stage
    info: ProgramInfo | None = None       # set by the policy stage
    # Restricted-run results reused by later stages: function -> per-frame values.
    suite_values: dict[str, list] = field(default_factory=dict)
    _box: Sandbox | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8", "surrogateescape")).hexdigest()

    def sandbox(self, limits: Limits, pool: SandboxPool | None = None) -> Sandbox:
        """The audit's one restricted child, started and loaded on first use."""
        if self._box is None:
            self._box = Sandbox(self.source, limits, pool=pool)
            self._box.load()
        return self._box

    def close(self) -> None:
        if self._box is not None:
            self._box.close()
            self._box = None
