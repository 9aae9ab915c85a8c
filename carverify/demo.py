"""`carverify demo`: audit the bundled examples, then generate → audit → train CaR vs sparse on DoorKey-5x5.

Offline and embedded by default: the replay provider serves recorded model exchanges and
MLflow writes to mlruns.db in carverify's cache folder.  Sized to finish in under 10 minutes on 2 CPU cores.
"""
from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

from carverify.suite import REPO_ROOT

EXAMPLES = REPO_ROOT / "examples"
SUITE = "minigrid-doorkey-5x5"
# The short budget: about where CaR crosses 80% on DoorKey-5x5 with the suite's [train]
# hyperparameters; the full experiment (README) runs 300k steps per seed.
TRAIN_STEPS = 80_000
TRAIN_SEEDS = (0, 1)
EVAL_EVERY = 10_000
EVAL_EPISODES = 16


def run_demo(*, track: bool = True, tracking_uri: str | None = None, out: str = "runs/demo",
             steps: int = TRAIN_STEPS, seeds=TRAIN_SEEDS) -> int:
    start = time.perf_counter()
    uri = None
    if track:
        from carverify.tracking import default_tracking_uri
        uri = tracking_uri or default_tracking_uri()
    audit_examples(track=track, tracking_uri=uri)
    program, report, how = generate_program(Path(out), track=track, tracking_uri=uri)
    results, plot = train_both(program, report, Path(out), steps=steps, seeds=seeds, track=track, tracking_uri=uri)
    print_results(results, plot, how)
    print(f"\nDemo finished in {time.perf_counter() - start:.0f} s.")
    if track:
        print(f"MLflow runs logged to {uri}; browse with:\n  .venv/bin/mlflow ui --backend-store-uri {uri}")
    return 0


def _section(title: str) -> None:
    print(f"\n== {title} ==\n", flush=True)


def audit_examples(*, track: bool, tracking_uri: str | None) -> None:
    from carverify.audit import audit_file
    from carverify.config import AuditConfig
    from sandbox import SandboxPool

    programs = sorted(EXAMPLES.glob("*.py"))
    _section(f"1. Audit {len(programs)} example programs against {SUITE}")
    print(f"{'program':<28} {'verdict':<9} {'seconds':>7}  first finding")
    reports = []
    with SandboxPool() as pool:
        config = AuditConfig(pool=pool)
        for path in programs:
            began = time.perf_counter()
            report = audit_file(path, SUITE, config=config)
            if track:
                from carverify.tracking import log_audit
                log_audit(report, path.read_text(encoding="utf-8"), tracking_uri=tracking_uri,
                          run_name=f"demo:{path.name}")
            first = report.findings[0].render(path.name) if report.findings else ""
            print(f"{path.name:<28} {report.verdict:<9} {time.perf_counter() - began:>7.2f}  {first[:90]}",
                  flush=True)
            reports.append(report)
    accepted = sum(r.verdict == "accepted" for r in reports)
    print(f"\n{accepted} accepted, {len(reports) - accepted} rejected.")


def generate_program(out: Path, *, track: bool, tracking_uri: str | None) -> tuple[Path, Path, str]:
    """Write an accepted program and its audit report under `out`; say where the program came from."""
    from carverify.report.json_report import render_json
    from carverify.report.text import render_text
    from carverify.suite import load_suite

    suite = load_suite(SUITE)
    out.mkdir(parents=True, exist_ok=True)
    program, report_path = out / "program.py", out / "program.py.report.json"
    if importlib.util.find_spec("carverify.generate.loop") is not None:
        _section(f"2. Generate a reward program for {SUITE} (replay provider: recorded model exchanges)")
        code, report, how = _generate(suite, track=track, tracking_uri=tracking_uri)
    else:
        _section("2. Generate: carverify.generate.loop is not available — using the suite's reference program")
        code, report, how = _reference(suite, track=track, tracking_uri=tracking_uri)
    program.write_text(code, encoding="utf-8")
    report_path.write_text(render_json(report), encoding="utf-8")
    _section("3. Audit of the program CaR will use")
    print(render_text(report))
    print(f"\nprogram: {program}\nreport:  {report_path}")
    if report.verdict != "accepted":
        from carverify.errors import UsageError
        raise UsageError(f"the demo's program was not accepted ({report.verdict}); see {report_path}")
    return program, report_path, how


def _generate(suite, *, track: bool, tracking_uri: str | None):
    from carverify.generate import loop
    from carverify.generate.providers import DEFAULT_MODEL, ReplayProvider
    from carverify.generate.transcripts import default_folder

    listeners: list = [loop.ProgressPrinter(sys.stdout, loop.DEFAULT_ROUNDS)]
    tracker = None
    if track:
        from carverify.generate.track import GenerateTracker
        tracker = GenerateTracker(tracking_uri, rounds=loop.DEFAULT_ROUNDS)
        tracker.start(suite=suite.name, provider="replay", model=DEFAULT_MODEL)
        listeners.append(tracker)
    try:
        gen = loop.generate(suite, ReplayProvider(default_folder(suite), suite_name=suite.name),
                            model=DEFAULT_MODEL, listeners=listeners)
    except BaseException:
        if tracker is not None:
            tracker.failed()
        raise
    best = gen.best
    if best is None:
        from carverify.errors import InternalError
        raise InternalError("generate produced no program to audit")
    how = (f"generated by `carverify generate` (replay provider), accepted in round {best.number} "
           f"of {len(gen.rounds)}")
    return best.code, best.report, how


def _reference(suite, *, track: bool, tracking_uri: str | None):
    from carverify.audit import audit_source
    from carverify.reward import reference_program

    source, path = reference_program(suite)
    report = audit_source(source, suite, path=path)
    if track:
        from carverify.tracking import log_audit
        log_audit(report, source, tracking_uri=tracking_uri, run_name=f"demo:{Path(path).name}")
    return source, report, f"the suite's reference program {Path(path).name} (carverify generate not available)"


def train_both(program: Path, report: Path, out: Path, *, steps: int, seeds, track: bool,
               tracking_uri: str | None):
    from carverify import train

    _section(f"4. Train PPO on {SUITE}: CaR (the program above) vs sparse reward, "
             f"{steps:,} steps x {len(seeds)} seeds each")
    args = train.Args(suite=SUITE, rewards=("car", "sparse"), steps=steps, seeds=tuple(seeds),
                      program=str(program), report=str(report), eval_every=EVAL_EVERY,
                      eval_episodes=EVAL_EPISODES, out=str(out), tracking_uri=tracking_uri, track=track)
    results = train.main(args)
    return results, out / SUITE / "success_rate.png"


def print_results(results, plot: Path, how: str) -> None:
    _section("Results")
    print(f"reward program: {how}")
    print(f"evaluation: deterministic policy, {EVAL_EPISODES} fixed layouts, success = env reward > 0\n")
    print(f"{'reward':<7} {'success (mean)':>14} {'per seed':<14} {'steps to 80%':<18} {'steps':>8} "
          f"{'wall s':>7} {'steps/s':>7}")
    for reward in ("car", "sparse"):
        runs = [r for r in results if r.reward == reward]
        if not runs:
            continue
        per_seed = " ".join(f"{r.final_success:.2f}" for r in runs)
        reach = " ".join(f"{r.steps_to_target // 1000}k" if r.steps_to_target is not None else "-" for r in runs)
        print(f"{'CaR' if reward == 'car' else reward:<7} {statistics.mean(r.final_success for r in runs):>14.2f} "
              f"{per_seed:<14} {reach:<18} {max(r.steps for r in runs):>8} "
              f"{sum(r.wall_seconds for r in runs):>7.0f} "
              f"{statistics.mean(r.steps_per_second for r in runs):>7.0f}")
    print(f"\nplot (mean, min–max band over seeds): {plot}")
