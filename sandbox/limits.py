"""Resource limits for one audit's sandbox child.

Time limits count the child's CPU time, never the wall clock, so that another tenant on
the machine cannot turn a correct program into a timeout: the child arms ITIMER_PROF
per call, per load and per compile, and the kernel enforces RLIMIT_CPU on the whole
child.  The parent keeps wall-clock backstops only for a child that is starved or stuck
(sandbox/runner.py); reaching one is an infrastructure error (CV604), not a verdict.
"""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    max_source_bytes: int = 64 * 1024
    max_ast_depth: int = 60
    # CPU seconds per check call: ~100x a loop-style check on a 64x64 frame (a few ms), yet
    # small enough that many calls just under it soon exhaust cpu_seconds.
    call_seconds: float = 0.5
    cpu_seconds: int = 45          # CPU seconds for the whole child, enforced by the kernel (RLIMIT_CPU)
    load_seconds: float = 10.0     # CPU seconds for module-level code
    # CPU seconds for numba to compile a program's functions, one batch (native child; added
    # to its cpu_seconds).  Reference programs take 1-25 s cold; a reward check that needs
    # more than 120 s of compiler time is the program's problem, whatever the machine's load.
    compile_seconds: float = 120.0
    # Wall-clock backstops.  wall_seconds bounds a restricted child's whole life (a native
    # child gets wall_factor x compile_seconds more); each phase (a load, a compile, one
    # call) is also cut off after wall_factor times its CPU budget.
    wall_seconds: float = 180.0
    wall_factor: float = 4.0
    memory_bytes: int = 1 << 30    # RLIMIT_AS for the restricted interpreter
    compile_memory_bytes: int = 4 << 30  # numba/LLVM needs far more address space
    max_output_bytes: int = 64 << 20

    def child_cpu_seconds(self, mode: str) -> int:
        """RLIMIT_CPU of one child: its calls, plus the compile budget in native mode."""
        return int(self.cpu_seconds + (self.compile_seconds if mode == "native" else 0))

    def child_wall_seconds(self, mode: str) -> float:
        """The wall-clock backstop on one child's whole life."""
        return self.wall_seconds + (self.wall_factor * self.compile_seconds if mode == "native" else 0.0)

    def to_dict(self) -> dict:
        return asdict(self)
