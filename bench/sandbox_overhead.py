"""Sandbox overhead per audit: restricted-stage wall time minus the checks' own run time.

The same checks are timed in plain CPython in this process (authored example, trusted),
so the difference is what the sandbox adds: child hand-off, RestrictedPython compile,
guards, frame transfer and JSON.  Prints one figure from one run; no assertions.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from carverify.audit import audit_source
from carverify.config import AuditConfig
from carverify.episodes import suite_frames
from carverify.suite import load_suite
from sandbox import SandboxPool

ROOT = Path(__file__).resolve().parents[1]
SUITE = "minigrid-doorkey-5x5"
RUNS = 20


def plain_seconds(source: str, frames: np.ndarray) -> float:
    namespace: dict = {}
    exec(compile(source, "example", "exec"), namespace)  # our own authored example only
    start = time.perf_counter()
    for name in namespace["SUBTASKS"]:
        for frame in frames:
            namespace[name](frame)
    return time.perf_counter() - start


def main() -> None:
    suite = load_suite(SUITE)
    source = (ROOT / "examples" / "good_vectorized.py").read_text()
    frames = suite_frames(suite)
    stages = ("parse", "policy", "restricted")
    with SandboxPool() as pool:
        config = AuditConfig(pool=pool)
        audit_source(source, suite, stages=stages, config=config)  # warm: caches, imports
        walls, plains = [], []
        for _ in range(RUNS):
            time.sleep(0.3)  # let the pool's replacement child finish starting: a warm machine
            start = time.perf_counter()
            report = audit_source(source, suite, stages=stages, config=config)
            walls.append(time.perf_counter() - start)
            plains.append(plain_seconds(source, frames))
            assert report.verdict == "accepted", report.findings
    cold = []
    for _ in range(5):
        start = time.perf_counter()
        audit_source(source, suite, stages=stages)
        cold.append(time.perf_counter() - start)
    wall, plain = statistics.median(walls), statistics.median(plains)
    print(f"sandbox overhead per audit ({len(frames)} frames x 3 checks, {RUNS} runs, median)")
    print(f"  audit wall (parse+policy+restricted, warm pool): {wall * 1e3:7.1f} ms")
    print(f"  the same checks in plain CPython:                 {plain * 1e3:7.1f} ms")
    print(f"  overhead (warm pool):                             {(wall - plain) * 1e3:7.1f} ms  (target < 50 ms)")
    print(f"  overhead (cold child, no pool):                   {(statistics.median(cold) - plain) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
