"""Resource limits for one audit's sandbox child."""
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    max_source_bytes: int = 64 * 1024
    max_ast_depth: int = 60
    # Per check call: ~100x a loop-style check on a 64x64 frame (a few ms), yet small
    # enough that a check just under it cannot stretch an audit past the wall limit.
    call_seconds: float = 0.5
    cpu_seconds: int = 45          # whole child, enforced by the kernel (RLIMIT_CPU)
    wall_seconds: float = 60.0     # whole child, enforced by the parent's kill
    memory_bytes: int = 1 << 30    # RLIMIT_AS for the restricted interpreter
    compile_memory_bytes: int = 4 << 30  # numba/LLVM needs far more address space
    load_seconds: float = 10.0     # module-level code plus startup
    max_output_bytes: int = 64 << 20

    def to_dict(self) -> dict:
        return asdict(self)
