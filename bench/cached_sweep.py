"""Cached re-audits: `carverify audit` over 200 unchanged programs, end to end (a fresh process), target < 2 s.

200 distinct programs (the bundled good example with a numbered comment each) are audited once
to fill a private cache, then the same command is timed again: every report comes from the
cache.  The stages are parse and policy, so filling is quick; a stored report is read the
same way whatever stages made it.  One run per repetition, no assertions.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    source = (ROOT / "examples" / "good_vectorized.py").read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="carverify-bench-") as tmp:
        programs = Path(tmp) / "programs"
        programs.mkdir()
        for n in range(args.programs):
            (programs / f"p{n:04d}.py").write_text(source + f"\n# variant {n}\n", encoding="utf-8")
        env = {**os.environ, "CARVERIFY_CACHE": str(Path(tmp) / "cache")}
        command = [sys.executable, "-m", "carverify.cli", "audit", str(programs), "--suite", "minigrid-doorkey-5x5",
                   "--stages", "parse", "policy", "--no-track", "--quiet"]
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        fill = time.perf_counter() - start
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
        assert f"{args.programs} cached" in done.stdout, done.stdout[-500:]
    best, median = min(times), statistics.median(times)
    print(f"cached re-audit sweep, {args.programs} unchanged programs, whole CLI process: "
          f"median {median:.2f} s, best {best:.2f} s (target < {TARGET_SECONDS:.0f} s: "
          f"{median / TARGET_SECONDS:.2f}x of it); first, uncached sweep {fill:.2f} s")


if __name__ == "__main__":
    main()
