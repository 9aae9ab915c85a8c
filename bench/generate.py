"""The VLM-CaR refinement loop measured with a real local model (make bench-generate).

For each suite and feedback mode, N independent generations: generation i shows the frames
of the suite's expert seed i and samples with seed i at a fixed temperature.  Per run:
accepted in round 1, accepted within R rounds, rounds used, tokens, wall time, and the
finding codes that rejected each round.  The feedback ablation: full findings (codes,
quoted lines, numbers, counterexamples in words) vs codes only vs "rejected, try again",
paired: the modes of generation i share its first two answers (sub-tasks, first program;
SharedAnswers), so they differ only in the feedback.

Resumable: one JSON line per finished run in --out/runs.jsonl, written as it finishes;
a run already there is skipped.  --max-minutes stops starting new runs (default 60), so
one invocation fits the budget and the next continues.  One llama.cpp server serves the
whole sweep on 127.0.0.1 and is always stopped.  Any image suite: since prompts v6 the
program request describes each suite's own frame (carverify/prompts/observation_*.md).
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
              "minigrid-unlockpickup", "tabletop-block-in-bowl", "tabletop-block-in-box", "tabletop-separate-piles",
              "panda-push-pixels", "panda-slide-pixels"]


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
    # Measured here at load 6 on 2 cores: 3.8 reply tokens/s with 1 thread, 2.0 with 2 (a thread
    # descheduled at each of llama.cpp's barriers stalls the other); prompt tokens 8.5 vs 7.4/s.
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1: best on a busy machine)")
    p.add_argument("--max-tokens", type=int, default=1024,
                   help="reply cap (default 1024: a DoorKey program is 300-900 tokens; a looping reply "
                        "at 4 tokens/s would otherwise cost 9 minutes)")
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds per model request (default 1800: a 1024-token reply after 2,000 new prompt "
                        "tokens took over 600 s here at load 6)")
    p.add_argument("--no-record", action="store_true", help="do not save each run's transcript under --out")
    args = p.parse_args(argv)
    if args.suites == ["all"]:
        args.suites = ALL_SUITES
    return args


def run_key(model, suite, feedback, seed, temperature, rounds, stages, prompt_version) -> str:
    # The prompt version is part of the key: a prompt fix is measured again, not skipped as done.
    return json.dumps([model, suite, feedback, seed, temperature, rounds, stages or "all", prompt_version])


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


class Capture:
    """Keeps the generation as it goes, so a run stopped midway (SIGTERM, Ctrl-C) still leaves a row."""

    def __init__(self):
        self.gen, self.start = None, time.perf_counter()

    def decomposed(self, gen) -> None:
        self.gen = gen

    def round_done(self, gen, round_) -> None:
        self.gen = gen

    def row(self) -> dict | None:
        gen = self.gen
        if gen is None:
            return None
        usage = gen.usage()
        exchanges = ([gen.decompose] if gen.decompose else []) + [r.exchange for r in gen.rounds]
        return {
            "model_seconds": round(sum(ex.completion.latency_seconds for ex in exchanges), 1),
            "accepted_first": bool(gen.rounds and gen.rounds[0].accepted), "accepted": gen.accepted,
            "rounds_used": len(gen.rounds), "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
            "wall_seconds": round(time.perf_counter() - self.start, 1),
            "decomposed": gen.decomposition is not None,
            "subtasks": [s["name"] for s in gen.decomposition["subtasks"]] if gen.decomposition else None,
            "rejections": [[f.code for f in r.findings[:3]] for r in gen.rounds if not r.accepted],
            # Per round: how the code was found (block, unfenced, patch) and the verdict.
            "round_how": [[r.how, r.verdict] for r in gen.rounds],
            "patches": sum(1 for r in gen.rounds if r.how.startswith("patch")),
        }


class SharedAnswers:
    """A paired design: the feedback modes of generation i send the same first requests (the
    sub-tasks, then the program: no feedback in them yet) with the same seed, so they are asked
    once and the three modes go on from the same first program; they differ only in what the
    feedback says.  Round 1 is by definition the same for every mode, and a sweep saves 2 of
    its ~6 requests per run.  A reused answer counts at its measured latency in the run's
    model and wall time, as if asked again."""

    def __init__(self, provider):
        self.provider, self.answers = provider, {}
        self.reused, self.reused_seconds = 0, 0.0

    def __getattr__(self, name):
        return getattr(self.provider, name)

    @property
    def sampling(self):
        return self.provider.sampling

    @sampling.setter
    def sampling(self, value):
        self.provider.sampling = value

    def complete(self, messages, *, model):
        from carverify.generate.transcripts import request_hash

        key = (request_hash(messages), json.dumps(self.provider.sampling, sort_keys=True))
        if key in self.answers:
            answer = self.answers[key]
            self.reused, self.reused_seconds = self.reused + 1, self.reused_seconds + answer.latency_seconds
            return answer
        answer = self.provider.complete(messages, model=model)
        self.answers[key] = answer
        return answer


def one_run(suite, provider, model, seed, feedback, rounds, stages, temperature, capture: Capture,
            record=None) -> dict:
    from carverify.generate import loop, prompts

    expert_seeds = suite.config["episodes"]["expert_seeds"]
    frames = prompts.Frames.of_suite(suite, expert_seeds[seed % len(expert_seeds)])
    provider.sampling = {**provider.sampling, "seed": seed, "temperature": temperature}
    listeners = [loop.ProgressPrinter(sys.stderr, rounds), capture]
    listeners += [loop.TranscriptRecorder(record)] if record else []
    loop.generate(suite, provider, model=model, rounds=rounds, stages=stages, frames=frames,
                  feedback=feedback, listeners=listeners)
    return capture.row()


def _group(r: dict) -> tuple:
    return (r["model"], r.get("prompt_version", "v1"), r["suite"], r["feedback"])


def _load(r: dict) -> float:
    load = r["load_average"]
    return max(load) if isinstance(load, list) else load


# The audit's stages in order; a reply with no program (CV7xx) comes before them all.
STAGE_ORDER = ("generation", "parse", "policy", "restricted", "properties", "trajectories", "compile", "coverage")


def stage_reached(codes: list[str]) -> int:
    """Index in STAGE_ORDER of the stage a rejected round failed at (its earliest failing code)."""
    from carverify.codes import STAGE_OF

    stages = [STAGE_ORDER.index(STAGE_OF[c[2]]) for c in codes if STAGE_OF.get(c[2:3]) in STAGE_ORDER]
    return min(stages, default=0)


def later_rounds_past_sandbox(rs: list[dict]) -> tuple[int, int]:
    """Rounds 2..R that got past the sandbox (to the trajectories stage or further, or accepted),
    and all rounds 2..R: when nothing is accepted, this is where the feedback modes differ.
    Round 1 is left out: it is the same in every mode (paired design)."""
    past = total = 0
    for r in rs:
        stages = [stage_reached(codes) for codes in r["rejections"]]   # the rejected rounds, in order
        if r["accepted"]:
            stages.append(len(STAGE_ORDER))                               # the last round: past them all
        total += len(stages[1:])
        past += sum(1 for st in stages[1:] if st >= STAGE_ORDER.index("trajectories"))
    return past, total



def _version_number(version: str) -> int:
    """v10 after v9: prompt versions in numeric order, not string order."""
    digits = version.lstrip("v")
    return int(digits) if digits.isdigit() else 0


def _version_order(key: tuple) -> tuple:
    """(model, version, ...) with the version compared as a number."""
    return (key[0], _version_number(key[1]), *key[2:])

def table(runs: list[dict], stopped: list[dict] = ()) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault(_group(r), []).append(r)
    head = (f"{'model':<18} {'prompts':<7} {'suite':<21} {'feedback':<8} {'n':>2} {'1st round':>9} {'within R':>8} "
            f"{'rounds':>6} {'past sandbox':>12} {'tokens':>7} {'wall s':>6} {'tok/s':>5} {'load':>4}")
    lines = [head, "-" * len(head)]
    for (model, version, suite, feedback), rs in sorted(groups.items(), key=lambda kv: _version_order(kv[0])):
        n = len(rs)
        first = sum(r["accepted_first"] for r in rs)
        within = sum(r["accepted"] for r in rs)
        mean = lambda key: sum(r[key] for r in rs) / n  # noqa: E731
        tokens = sum(r["prompt_tokens"] + r["completion_tokens"] for r in rs) / n
        # Reply tokens per second of model time (prompt processing included): load-inflated.
        model_s = sum(r.get("model_seconds", 0) for r in rs)
        rate = f"{sum(r['completion_tokens'] for r in rs) / model_s:5.1f}" if model_s else "    -"
        past, total = later_rounds_past_sandbox(rs)
        lines.append(f"{model:<18} {version:<7} {suite:<21} {feedback:<8} {n:>2} {first:>4}/{n:<4} {within:>3}/{n:<4} "
                     f"{mean('rounds_used'):>6.1f} {f'{past}/{total}':>12} {tokens:>7.0f} {mean('wall_seconds'):>6.0f} {rate} "
                     f"{max(_load(r) for r in rs):>4.1f}")
    lines.append("past sandbox: rounds 2..R whose program got to the trajectories stage or further (or was "
                 "accepted), of all rounds 2..R;")
    lines.append("tokens: prompt + reply per run; wall s: mean per run, audits included; tok/s: reply tokens per "
                 "second of model time; load: the highest 1-min load average seen (2 cores, shared)")
    for version in sorted({r.get("prompt_version", "v1") for r in [*runs, *stopped]}, key=_version_number):
        codes: dict[str, int] = {}
        for r in [*runs, *stopped]:
            if r.get("prompt_version", "v1") != version:
                continue
            for round_codes in r["rejections"]:
                for code in set(round_codes):
                    codes[code] = codes.get(code, 0) + 1
        if codes:
            lines.append(f"prompts {version}, rejected rounds by finding code: "
                         + ", ".join(f"{c} {n}" for c, n in sorted(codes.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines)


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # One group of bars per (model, prompts, suite): a prompt fix shows as a second group.  Left:
    # acceptance; right: how often rounds 2..R got past the sandbox, where modes differ even
    # when none is accepted.
    columns = sorted({_group(r)[:3] for r in runs}, key=_version_order)
    modes = [m for m in ("full", "codes", "none") if any(r["feedback"] == m for r in runs)]
    fig, axes = plt.subplots(1, 2, figsize=(2.0 + 2.6 * len(columns), 3.8))
    width = 0.8 / max(1, len(modes))
    labelled: set[str] = set()
    for i, mode in enumerate(modes):
        for k, column in enumerate(columns):
            rs = [r for r in runs if _group(r)[:3] == column and r["feedback"] == mode]
            if not rs:
                continue
            x = k + i * width
            within = sum(r["accepted"] for r in rs)
            label = None if mode in labelled else f"feedback: {mode}"
            labelled.add(mode)
            axes[0].bar(x, within / len(rs), width, color=f"C{i}", label=label)
            axes[0].bar(x, sum(r["accepted_first"] for r in rs) / len(rs), width, color="none", edgecolor="black",
                        hatch="//", label=None if "first" in labelled else "accepted in round 1")
            labelled.add("first")
            axes[0].text(x, within / len(rs) + 0.02, f"{within}/{len(rs)}", ha="center", fontsize=7)
            past, total = later_rounds_past_sandbox(rs)
            share = past / total if total else 0.0
            axes[1].bar(x, max(share, 0.005), width, color=f"C{i}")
            axes[1].text(x, share + 0.02, f"{past}/{total}", ha="center", fontsize=7)
    # each group's tick under the middle of the bars it has (a single run has one bar, at its left)
    present = [[i for i, m in enumerate(modes) if any(_group(r)[:3] == c and r["feedback"] == m for r in runs)]
               for c in columns]
    ticks = [k + width * (min(p) + max(p)) / 2 for k, p in enumerate(present)]
    labels = [f"{suite.replace('minigrid-', '')}\n{model.replace('qwen2.5-coder-', '')}\nprompts {version}"
              for model, version, suite in columns]
    for ax, ylabel in zip(axes, ("accepted within R rounds", "rounds 2..R past the sandbox")):
        ax.set_xticks(ticks, labels, fontsize=7)
        ax.set_ylim(0, 1.1)
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize=7)
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
    rows = load_runs(results)
    runs = [r for r in rows if not r.get("interrupted")]
    stopped = [r for r in rows if r.get("interrupted")]
    if stopped:
        print(f"{len(stopped)} run(s) stopped midway, not in the table: "
              + "; ".join(f"{r['model']} prompts {r.get('prompt_version')} {r['suite']} {r['feedback']} seed {r['seed']}: "
                          f"{r['rounds_used']} round(s) ({r['interrupted']}), rejected by "
                          + ", ".join("+".join(c) for c in r["rejections"]) for r in stopped))
    if not runs:
        print("no finished runs yet")
        return 1
    print(table(runs, stopped))
    plot(runs, out / "acceptance.png")
    print(f"runs: {results}  plot: {out / 'acceptance.png'}")
    return 0


def sweep(args, results: Path) -> None:
    from carverify.generate import local_model
    from carverify.generate.local_server import LocalProvider, LocalServer, stop_on_sigterm
    from carverify.generate.prompts import PROMPT_VERSION
    from carverify.generate.providers import ProviderError
    from carverify.suite import load_suite

    def key(suite_name, feedback, seed):
        return run_key(args.model, suite_name, feedback, seed, args.temperature, args.rounds, args.stages,
                       PROMPT_VERSION)

    done = {r["key"] for r in load_runs(results)}
    # Seed by seed, the modes side by side: a sweep cut short by --max-minutes leaves the modes
    # with equal numbers of runs, and each seed's first answers are shared (SharedAnswers).
    todo = [(s, f, seed) for s in args.suites for seed in range(args.n) for f in args.feedback
            if key(s, f, seed) not in done]
    print(f"{len(todo)} runs to do ({len(done)} already in {results}); model {args.model}, prompts "
          f"{PROMPT_VERSION}, temperature {args.temperature}, {args.rounds} rounds", file=sys.stderr)
    if not todo:
        return
    spec = local_model.spec_of(args.model)
    path = local_model.verified_path(spec, status=lambda t: print(t, file=sys.stderr))
    stop_on_sigterm()
    deadline = time.monotonic() + args.max_minutes * 60
    with LocalServer(path, spec.name, threads=args.threads, status=lambda t: print(t, file=sys.stderr)) as server:
        provider = SharedAnswers(LocalProvider(server, timeout=args.timeout, sampling={"max_tokens": args.max_tokens}))
        for i, (suite_name, feedback, seed) in enumerate(todo, 1):
            if time.monotonic() > deadline:
                print(f"--max-minutes {args.max_minutes:g} reached: {len(todo) - i + 1} runs left for the next "
                      "invocation", file=sys.stderr)
                break
            print(f"[{i}/{len(todo)}] {suite_name} feedback={feedback} seed={seed}", file=sys.stderr)
            load_before = os.getloadavg()[0]
            writer = transcript_writer(args, spec, suite_name, feedback, seed, PROMPT_VERSION)
            capture = Capture()
            provider.reused, provider.reused_seconds = 0, 0.0
            try:
                row = one_run(load_suite(suite_name), provider, spec.name, seed, feedback, args.rounds,
                              args.stages, args.temperature, capture, writer)
            except (ProviderError, KeyboardInterrupt, SystemExit) as exc:
                # Stopped midway (a request timed out, SIGTERM, Ctrl-C): its rounds so far are a row
                # marked interrupted, with why: kept out of the acceptance table and done again
                # next time, but listed, and its rejections are counted.
                row = capture.row()
                why = f"{type(exc).__name__}: {exc}" if isinstance(exc, ProviderError) else type(exc).__name__
                print(f"run stopped: {why}", file=sys.stderr)
                if row is not None:
                    row["interrupted"] = why
                    write_row(results, row, key(suite_name, feedback, seed) + " interrupted", args, spec, suite_name,
                              feedback, seed, PROMPT_VERSION, load_before, writer)
                if not isinstance(exc, ProviderError):
                    raise
                server.check_alive()
                continue
            row.update(shared_answers=provider.reused,
                       wall_seconds=round(row["wall_seconds"] + provider.reused_seconds, 1))
            write_row(results, row, key(suite_name, feedback, seed), args, spec, suite_name, feedback, seed,
                      PROMPT_VERSION, load_before, writer)


def write_row(results: Path, row: dict, key: str, args, spec, suite_name, feedback, seed, prompt_version,
              load_before, writer) -> None:
    from carverify.generate import local_model

    # The machine is shared: the load next to each wall time says how inflated it is.
    row.update(key=key, model=spec.name, suite=suite_name, feedback=feedback, seed=seed,
               temperature=args.temperature, rounds=args.rounds, prompt_version=prompt_version,
               threads=args.threads, max_tokens=args.max_tokens, runtime=local_model.runtime_version(),
               cpu_count=os.cpu_count(), load_average=[round(load_before, 1), round(os.getloadavg()[0], 1)],
               transcript=str(writer.path.relative_to(ROOT)) if writer else None,
               finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    with results.open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def transcript_writer(args, spec, suite_name, feedback, seed, prompt_version):
    """Every exchange of a run, labelled as `carverify generate --record` labels them: the accepted
    runs of generation 0 (expert seed 0's frames, as replay asks) can become the suite's transcripts."""
    if args.no_record:
        return None
    from carverify.generate import local_model
    from carverify.generate.transcripts import TranscriptWriter

    path = (Path(args.out) / "transcripts" / prompt_version / suite_name
            / f"{spec.name}-{feedback}-seed{seed}-t{args.temperature:g}.json")
    return TranscriptWriter(path, suite=suite_name, provider="local", model=spec.name, prompt_version=prompt_version,
                            labels={"model_title": spec.title, "quantisation": spec.quantisation,
                                    "runtime": local_model.runtime_version(),
                                    "sampling": {"seed": seed, "temperature": args.temperature},
                                    "feedback": feedback, "images": False})


if __name__ == "__main__":
    sys.exit(main())
