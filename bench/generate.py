"""The VLM-CaR refinement loop measured with a real local model (make bench-generate).

For each suite and feedback mode, N independent generations: generation i shows the frames
of the suite's expert seed i and samples with seed i at a fixed temperature.  Per run:
accepted in round 1, accepted within R rounds, rounds used, tokens, wall time, and the
finding codes that rejected each round.  The feedback ablation: full findings (codes,
quoted lines, numbers, counterexamples in words) vs codes only vs "rejected, try again".

Resumable: one JSON line per finished run in --out/runs.jsonl, written as it finishes;
a run already there is skipped.  --max-minutes stops starting new runs (default 60), so
one invocation fits the budget and the next continues.  One llama.cpp server serves the
whole sweep on 127.0.0.1 and is always stopped.  MiniGrid suites only: the program prompt
describes MiniGrid tiles (the Panda pixel suites have no generate prompt yet).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_SUITES = ["minigrid-doorkey-5x5"]
ALL_SUITES = ["minigrid-doorkey-5x5", "minigrid-doorkey-6x6", "minigrid-doorkey-8x8", "minigrid-unlock",
              "minigrid-unlockpickup"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b", help="local model (carverify model --list)")
    p.add_argument("--suites", nargs="+", default=DEFAULT_SUITES, help=f"default: {DEFAULT_SUITES}; 'all': {ALL_SUITES}")
    p.add_argument("--n", type=int, default=5, help="generations per suite and feedback mode")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--temperature", type=float, default=0.7)
    p.add_argument("--feedback", nargs="+", default=["full", "codes", "none"], choices=["full", "codes", "none"])
    p.add_argument("--stages", nargs="+", help="audit only these stages (default: all)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "generate"))
    p.add_argument("--max-minutes", type=float, default=60.0, help="start no new run after this (default 60)")
    p.add_argument("--report-only", action="store_true", help="print the table and plot from the saved runs")
    args = p.parse_args(argv)
    if args.suites == ["all"]:
        args.suites = ALL_SUITES
    return args


def run_key(model, suite, feedback, seed, temperature, rounds, stages) -> str:
    return json.dumps([model, suite, feedback, seed, temperature, rounds, stages or "all"])


def load_runs(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a kill: that run is simply done again
    return runs


def one_run(suite, provider, model, seed, feedback, rounds, stages, temperature) -> dict:
    from carverify.generate import loop, prompts

    expert_seeds = suite.config["episodes"]["expert_seeds"]
    frames = prompts.Frames.of_suite(suite, expert_seeds[seed % len(expert_seeds)])
    provider.sampling = {**provider.sampling, "seed": seed, "temperature": temperature}
    start = time.perf_counter()
    gen = loop.generate(suite, provider, model=model, rounds=rounds, stages=stages, frames=frames,
                        feedback=feedback, listeners=[loop.ProgressPrinter(sys.stderr, rounds)])
    wall = time.perf_counter() - start
    usage = gen.usage()
    return {
        "accepted_first": bool(gen.rounds and gen.rounds[0].accepted), "accepted": gen.accepted,
        "rounds_used": len(gen.rounds), "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0), "wall_seconds": round(wall, 1),
        "decomposed": gen.decomposition is not None,
        "subtasks": [s["name"] for s in gen.decomposition["subtasks"]] if gen.decomposition else None,
        "rejections": [[f.code for f in r.findings[:3]] for r in gen.rounds if not r.accepted],
        "patches": sum(1 for r in gen.rounds if r.how.startswith("patch")),
    }


def table(runs: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["suite"], r["feedback"]), []).append(r)
    head = (f"{'suite':<24} {'feedback':<8} {'n':>3} {'1st round':>9} {'within R':>8} {'rounds':>6} "
            f"{'tokens':>7} {'wall s':>7}")
    lines = [head, "-" * len(head)]
    for (suite, feedback), rs in sorted(groups.items()):
        n = len(rs)
        first = sum(r["accepted_first"] for r in rs)
        within = sum(r["accepted"] for r in rs)
        mean = lambda key: sum(r[key] for r in rs) / n  # noqa: E731
        tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for r in rs) / n
        lines.append(f"{suite:<24} {feedback:<8} {n:>3} {first:>4}/{n:<4} {within:>3}/{n:<4} "
                     f"{mean('rounds_used'):>6.1f} {tokens:>7.0f} {mean('wall_seconds'):>7.0f}")
    codes: dict[str, int] = {}
    for r in runs:
        for round_codes in r["rejections"]:
            for code in set(round_codes):
                codes[code] = codes.get(code, 0) + 1
    if codes:
        lines.append("rejected rounds by finding code: "
                     + ", ".join(f"{c} {n}" for c, n in sorted(codes.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = sorted({r["suite"] for r in runs})
    modes = [m for m in ("full", "codes", "none") if any(r["feedback"] == m for r in runs)]
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(suites), 3.2))
    width = 0.8 / max(1, len(modes))
    for i, mode in enumerate(modes):
        rates = []
        for suite in suites:
            rs = [r for r in runs if r["suite"] == suite and r["feedback"] == mode]
            rates.append(sum(r["accepted"] for r in rs) / len(rs) if rs else 0.0)
        ax.bar([k + i * width for k in range(len(suites))], rates, width, label=f"feedback: {mode}")
    ax.set_xticks([k + width * (len(modes) - 1) / 2 for k in range(len(suites))], suites, fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accepted within R rounds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "runs.jsonl"
    if not args.report_only:
        sweep(args, results)
    runs = load_runs(results)
    if not runs:
        print("no finished runs yet")
        return 1
    print(table(runs))
    plot(runs, out / "acceptance.png")
    print(f"runs: {results}  plot: {out / 'acceptance.png'}")
    return 0


def sweep(args, results: Path) -> None:
    from carverify.generate import local_model
    from carverify.generate.local_server import LocalProvider, LocalServer, stop_on_sigterm
    from carverify.generate.providers import ProviderError
    from carverify.suite import load_suite

    done = {r["key"] for r in load_runs(results)}
    todo = [(s, f, seed) for s in args.suites for f in args.feedback for seed in range(args.n)
            if run_key(args.model, s, f, seed, args.temperature, args.rounds, args.stages) not in done]
    print(f"{len(todo)} runs to do ({len(done)} already in {results}); model {args.model}, "
          f"temperature {args.temperature}, {args.rounds} rounds", file=sys.stderr)
    if not todo:
        return
    spec = local_model.spec_of(args.model)
    path = local_model.verified_path(spec, status=lambda t: print(t, file=sys.stderr))
    stop_on_sigterm()
    deadline = time.monotonic() + args.max_minutes * 60
    with LocalServer(path, spec.name, status=lambda t: print(t, file=sys.stderr)) as server:
        provider = LocalProvider(server)
        for i, (suite_name, feedback, seed) in enumerate(todo, 1):
            if time.monotonic() > deadline:
                print(f"--max-minutes {args.max_minutes:g} reached: {len(todo) - i + 1} runs left for the next "
                      "invocation", file=sys.stderr)
                break
            print(f"[{i}/{len(todo)}] {suite_name} feedback={feedback} seed={seed}", file=sys.stderr)
            try:
                row = one_run(load_suite(suite_name), provider, spec.name, seed, feedback, args.rounds,
                              args.stages, args.temperature)
            except ProviderError as exc:
                # Not recorded: the run is done again by the next invocation.
                print(f"run failed, not recorded: {exc}", file=sys.stderr)
                server.check_alive()
                continue
            row.update(key=run_key(args.model, suite_name, feedback, seed, args.temperature, args.rounds,
                                   args.stages), model=spec.name, suite=suite_name, feedback=feedback, seed=seed,
                       temperature=args.temperature, rounds=args.rounds, runtime=local_model.runtime_version(),
                       cpu_count=os.cpu_count(), load_average=round(os.getloadavg()[0], 1),
                       finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            with results.open("a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
