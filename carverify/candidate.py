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
    _native: Sandbox | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source.encode("utf-8", "surrogateescape")).hexdigest()

    def sandbox(self, limits: Limits, pool: SandboxPool | None = None) -> Sandbox:
        """The audit's one restricted child, started and loaded on first use."""
        if self._box is None:
            self._box = Sandbox(self.source, limits, pool=pool)
            self._box.load()
        return self._box

    def native(self, limits: Limits, pool: SandboxPool | None = None) -> Sandbox:
        """The audit's one native (numba) child, started and loaded on first use.

        Shared by the compile and coverage stages so that a program is compiled once per audit.
        """
        if self._native is None:
            self._native = Sandbox(self.source, limits, mode="native", pool=pool)
            self._native.load()
        return self._native

    def close(self) -> None:
        for box in (self._box, self._native):
            if box is not None:
                box.close()
        self._box = self._native = None
