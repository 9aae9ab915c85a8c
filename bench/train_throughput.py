"""Training throughput: PPO runs in one process, one after another, vs as Ray tasks on a local instance.

DoorKey-5x5 with the reference program (CaR), --runs seeds of --steps steps each, no MLflow.
Ray's start-up is timed apart from the sweep.  One run, no assertions: it prints the ratio
and whether every run's curve came out the same both ways.
"""
from __future__ import annotations

import argparse
import tempfile
import time

from carverify import train
from carverify.distributed import ray_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4, help="seeds to train (default 4)")
    # Long enough to amortise what each Ray worker pays once (importing torch/SB3/minigrid,
    # compiling the checks): at 8192 steps the two ways measured 0.92x, at 32768 1.62x.
    parser.add_argument("--steps", type=int, default=32768, help="env steps per run (default 32768)")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers (default 2)")
    args = parser.parse_args()

    def sweep(out: str, **ray) -> tuple[list, float]:
        start = time.perf_counter()
        results = train.main(train.Args(suite="minigrid-doorkey-5x5", rewards=("car",), steps=args.steps,
                                        seeds=tuple(range(args.runs)), eval_every=args.steps, eval_episodes=8,
                                        out=out, track=False, progress=False, **ray))
        return results, time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="carverify-bench-") as tmp:
        train.make_plan(train.Args(suite="minigrid-doorkey-5x5"))  # audit the program first (cached), untimed
        sequential, seq_seconds = sweep(tmp + "/sequential")
        start = time.perf_counter()
        with ray_session(workers=args.workers):
            started = time.perf_counter() - start
            on_ray, ray_seconds = sweep(tmp + "/ray", workers=args.workers)
    same = [(r.curve, r.subtask_curve) for r in sequential] == [(r.curve, r.subtask_curve) for r in on_ray]
    steps = sum(r.steps for r in sequential)
    print(f"training throughput, DoorKey-5x5 CaR, {args.runs} PPO runs x {args.steps} steps")
    print(f"  sequential (one process)      {seq_seconds:6.1f} s  {steps / seq_seconds:7.0f} env steps/s")
    print(f"  Ray, {args.workers} workers, local        {ray_seconds:6.1f} s  {steps / ray_seconds:7.0f} env steps/s"
          f"  ({seq_seconds / ray_seconds:.2f}x; same curves: {'yes' if same else 'NO'})")
    print(f"  local Ray start {started:.1f} s")


if __name__ == "__main__":
    main()
