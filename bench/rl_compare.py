"""The paper's claim, every environment: steps to 80% evaluation success with CaR vs the sparse reward.

One result file per run, written as soon as the run ends, under docs/results/rl/SUITE/:
`car-seed0.json`, `sparse-seed0.json`, `her-seed0.json` (Panda: SAC + HER on the sparse
reward, the baseline a user would pick).  A run whose file exists with the same settings
(budget, target, the suite's [train] config, the program's sha256; for sparse and HER runs,
which the program does not pay, not the program or CaR-only settings) is not run again, so the
table fills in over several sittings; `--fresh` retrains.  The table, a plot per suite and
the per-step model cost (bench/model_step_cost.py's docs/results/rl/model_cost.json, if
measured) are rebuilt from the files at the end of every invocation.

    python bench/rl_compare.py [--suites A B ...] [--seeds 0 1 2] [--workers 2] [--table-only]

Runs go to `--workers` processes (default 2: one per core, each PPO/SAC with one torch
thread).  Each run is a single process with no shared state, so a plain process pool is
enough; Ray adds start-up and memory on a 2-core machine and buys nothing here.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "rl"
TARGET = 0.8
SEEDS = (0, 1, 2)

# suite -> (budget in env steps, evaluate every, variants).  Budgets are the suites' [train]
# total_steps (0 below), except Panda, where published SAC results on push and slide need
# 10^5 steps or more (the suites' 10k default is sized for a quick demo); there an evaluation
# (20 episodes of 50 steps) every 5k steps costs a tenth of the training steps.
MINIGRID = ("car", "sparse")
TABLE: dict[str, tuple[int, int | None, tuple[str, ...]]] = {
    "minigrid-doorkey-5x5": (0, None, MINIGRID),
    "minigrid-doorkey-6x6": (0, None, MINIGRID),
    "minigrid-doorkey-8x8": (0, None, MINIGRID),
    "minigrid-unlock": (0, None, MINIGRID),
    "minigrid-unlockpickup": (0, None, MINIGRID),
    "tabletop-block-in-bowl-state": (0, None, ("car", "sparse")),
    "tabletop-block-in-box-state": (0, None, ("car", "sparse")),
    "tabletop-separate-piles-state": (0, None, ("car", "sparse")),
    "panda-push": (100_000, 5_000, ("car", "sparse", "her")),
    "panda-slide": (100_000, 5_000, ("car", "sparse", "her")),
}


def result_path(suite: str, variant: str, seed: int, out: Path = OUT) -> Path:
    return out / suite / f"{variant}-seed{seed}.json"


def settings(plan, variant: str) -> dict:
    """What a stored result must match to be reused: change any of these and the run is redone."""
    program = (plan.program or {}).get("source", "")
    config = json.loads(json.dumps(plan.config, sort_keys=True, default=str))
    return {"budget": plan.steps, "target": TARGET, "eval_every": plan.eval_every,
            "eval_episodes": plan.eval_episodes, "variant": variant, "config": config,
            "program_sha256": hashlib.sha256(program.encode()).hexdigest() if program else None}


# [train] settings only a CaR run's reward reads (make_env passes them to CodeReward for CaR only).
CAR_ONLY = ("program", "goal_needs_success", "progress_weight")


def comparable(stored: dict | None, variant: str) -> dict | None:
    """The part of a run's settings its steps to 80% depend on.  A sparse or HER run's program
    only measures sub-task completion (bonus 0), so a new reference program or a CaR-only
    setting does not redo it; its `subtask_curve` stays the one measured with the program
    named in its own settings (`program_sha256`)."""
    if stored is None or variant == "car":
        return stored
    config = {k: v for k, v in stored.get("config", {}).items() if k not in CAR_ONLY}
    return {**{k: v for k, v in stored.items() if k != "program_sha256"}, "config": config}


def make_plan(suite: str, budget: int, eval_every: int | None = None):
    from carverify import train

    args = train.Args(suite=suite, rewards=("car",), steps=budget or None, eval_every=eval_every, seeds=SEEDS,
                      stop_at=TARGET,
                      track=False, progress=False, out=tempfile.mkdtemp(prefix="carverify-rl-"))
    return train.make_plan(args)


def run_one(plan, variant: str, seed: int, path: str, wanted: dict) -> dict:
    """One training run in this (pool) process; its result file is written before returning."""
    import torch

    torch.set_num_threads(1)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    load0 = os.getloadavg()[0]
    name = f"{Path(plan.suite).name} {variant} seed {seed}"

    shown = [0]

    def beat(step):  # train's heartbeat comes every 2% of the run: a line every 10% is enough
        if step * 10 // plan.steps > shown[0]:
            shown[0] = step * 10 // plan.steps
            print(f"  {name}: {step:,}/{plan.steps:,} steps", flush=True)

    if variant == "her":
        from rl_her import run_her  # bench/ is on sys.path: this file's own folder

        result = run_her(plan, seed, heartbeat=beat)
    else:
        from carverify import train

        run, _ = train.run_seed(plan, variant, seed, heartbeat=beat)
        # Sub-task completion per evaluation: where a run never succeeds, it says how far it got.
        result = {"curve": run.curve, "subtask_curve": run.subtask_curve, "steps": run.steps,
                  "steps_to_target": run.steps_to_target, "wall_seconds": run.wall_seconds, "steps_per_second": run.steps_per_second,
                  "error": run.error}
    record = {"suite": Path(plan.suite).name, "variant": variant, "seed": seed, "settings": wanted,
              **result, "started": started, "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
              "commit": _commit(), "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                                               f"Python {platform.python_version()}"}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    tmp.replace(path)  # a run stopped half-way never leaves a half-written result
    return record


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except OSError:
        return ""


SKIPPED: dict[str, str] = {}   # suite -> why it has no plan (shown in the table)


def pending(suites: list[str], seeds, out: Path, fresh: bool, budget: int | None = None) -> list[tuple]:
    """(plan, variant, seed, path, settings) for every run without a matching result."""
    todo = []
    for suite in suites:
        steps, eval_every, variants = TABLE[suite]
        try:
            plan = make_plan(suite, budget or steps, eval_every)
        except Exception as exc:  # e.g. a suite with no [train] section yet: say so, go on with the rest
            print(f"{suite}: skipped: {exc}", flush=True)
            SKIPPED[suite] = f"not run: {exc}"
            continue
        for variant in variants:
            wanted = settings(plan, variant)
            for seed in seeds:
                path = result_path(suite, variant, seed, out)
                if path.is_file() and not fresh:
                    stored = json.loads(path.read_text(encoding="utf-8"))
                    if comparable(stored.get("settings"), variant) == comparable(wanted, variant):
                        continue
                todo.append((plan, variant, seed, str(path), wanted))
    return todo


# Measured wall per run on Panda (2026-12-04): SAC + HER 28-43 min, CaR 14-31, sparse 15-25.
LONGEST_FIRST = {"her": 0, "car": 1, "sparse": 2}


def longest_first(todo: list[tuple]) -> list[tuple]:
    """The queue with the slowest kind of run first, so that the last run left does not keep
    one worker busy alone for half an hour while the other waits (a stable sort: seeds stay in order)."""
    return sorted(todo, key=lambda job: LONGEST_FIRST.get(job[1], len(LONGEST_FIRST)))


def run_all(todo: list[tuple], workers: int) -> None:
    if not todo:
        print("every run is already done", flush=True)
        return
    todo = longest_first(todo)
    print(f"{len(todo)} runs to do on {workers} worker(s); each result is kept as it finishes", flush=True)
    context = multiprocessing.get_context("spawn")  # torch and PyBullet do not survive fork well
    t0 = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context,
                                                initializer=_worker_init) as pool:
        futures = {pool.submit(run_one, *job): job for job in todo}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            plan, variant, seed, path, _ = futures[future]
            try:
                r = future.result()
                reached = r["steps_to_target"]
                print(f"[{done}/{len(todo)}] {Path(plan.suite).name} {variant} seed {seed}: "
                      f"{'80% at ' + format(reached, ',') if reached is not None else 'not reached'} "
                      f"({r['wall_seconds'] / 60:.1f} min)", flush=True)
            except Exception as exc:
                print(f"[{done}/{len(todo)}] {Path(plan.suite).name} {variant} seed {seed}: FAILED: {exc}",
                      flush=True)
    print(f"all runs done in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)


def _worker_init() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("MPLBACKEND", "Agg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", nargs="+", default=list(TABLE), choices=list(TABLE), metavar="SUITE")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--budget", type=int, help="every run's step budget (a smoke test; the table's own by default)")
    parser.add_argument("--fresh", action="store_true", help="train again even if a matching result exists")
    parser.add_argument("--table-only", action="store_true", help="no training: the table and plots from the results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if not args.table_only:
        print("planning: the reference programs are audited first if no stored audit matches…", flush=True)
        run_all(pending(args.suites, args.seeds, out, args.fresh, args.budget), max(1, args.workers))
    from rl_table import into_readme, write_table

    table = write_table(out, TABLE, args.seeds, reasons=SKIPPED)
    print(table)
    if out == OUT and into_readme(ROOT / "README.md", table):
        print("README.md: the table between its rl-table markers is updated", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
