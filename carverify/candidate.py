"""A program under audit: its source plus what earlier stages learned about it."""
from __future__ import annotations

import ast
import hashlib
import threading
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
    # Set by the audit: defer(stage, finish, abandoned) lets a stage finish after the next one
    # (see audit_source); None when a stage is called on its own.
    defer: object = None
    _box: Sandbox | None = None
    _native: Sandbox | None = None
    _prefetch: threading.Thread | None = None

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
        if self._prefetch is not None:
            self._prefetch.join()
            self._prefetch = None
        if self._native is None:
            self._native = Sandbox(self.source, limits, mode="native", pool=pool)
        if self._native.loaded is None:
            self._native.load()
        return self._native

    def prefetch_native(self, fns: list[str], frames, limits: Limits, pool: SandboxPool | None = None) -> None:
        """Start loading and compiling the native child in the background.

        numba's compile is most of an audit's CPU, and it needs nothing the interpreted
        stages learn: it runs in its own child, on the other core, while they run.  The
        result is the sandbox's memo (Sandbox.compile), which `native()` then hands out;
        every limit still counts that child's own CPU time, so the verdict is unchanged.
        """
        if self._native is not None:
            return
        box = self._native = Sandbox(self.source, limits, mode="native", pool=pool)

        def work():
            try:
                if box.load().ok:
                    box.compile(fns, frames)
            except Exception:  # noqa: BLE001 - the stages that need the child redo and report what failed
                pass
        self._prefetch = threading.Thread(target=work, name="carverify-native-prefetch", daemon=True)
        self._prefetch.start()

    def close(self) -> None:
        if self._prefetch is not None:
            # An audit that ended early (a rejected program) does not wait for the compile.
            self._native.interrupt()
            self._prefetch.join(timeout=60)
            self._prefetch = None
        for box in (self._box, self._native):
            if box is not None:
                box.close()
        self._box = self._native = None
