"""Audit throughput: audits per second in one process vs as Ray tasks on a local instance.

The minigrid suites' reference programs and the bundled examples, repeated to --programs
jobs, on parse/policy/restricted (one sandbox child per audit either way).  Episode caches
are warmed first.  Ray's start-up is timed apart from the sweep.  One run, no assertions.
"""
from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path

from carverify.distributed import AuditJob, audit_many, ray_session
from carverify.suite import list_suites

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("parse", "policy", "restricted")


def jobs(n: int) -> list[AuditJob]:
    pool = [AuditJob(str(p), "minigrid-doorkey-5x5", STAGES) for p in sorted((ROOT / "examples").glob("*.py"))]
    for suite in list_suites():
        if suite.kind != "minigrid":
            continue
        manifest = tomllib.loads((suite.path / "programs" / "manifest.toml").read_text())
        pool += [AuditJob(str(suite.path / "programs" / e["file"]), suite.name, STAGES) for e in manifest["program"]]
    return (pool * (n // len(pool) + 1))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=100, help="audits per run (default 100)")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers (default 2)")
    args = parser.parse_args()
    work = jobs(args.programs)
    audit_many({(j.suite): j for j in work}.values())  # warm: simulate/load every suite's episodes once

    sequential = audit_many(work)
    start = time.perf_counter()
    with ray_session(workers=args.workers):
        started = time.perf_counter() - start
        on_ray = audit_many(work, workers=args.workers)
        stop = time.perf_counter()
    stopped = time.perf_counter() - stop
    same = [r.verdict for r in sequential.reports] == [r.verdict for r in on_ray.reports]

    n = len(work)
    print(f"audit throughput, {n} audits ({len({j.path for j in work})} distinct programs), stages {'/'.join(STAGES)}")
    print(f"  sequential (one process)      {sequential.seconds:6.1f} s  {n / sequential.seconds:5.2f} audits/s")
    print(f"  Ray, {args.workers} workers, local        {on_ray.seconds:6.1f} s  {n / on_ray.seconds:5.2f} audits/s"
          f"  ({sequential.seconds / on_ray.seconds:.2f}x; same verdicts: {'yes' if same else 'NO'})")
    print(f"  local Ray start {started:.1f} s, shutdown {stopped:.1f} s; with start-up: "
          f"{n / (on_ray.seconds + started):.2f} audits/s")


if __name__ == "__main__":
    main()
