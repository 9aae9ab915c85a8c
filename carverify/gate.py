"""`carverify audit` as a CI gate: verdicts first, then every report file, then MLflow, which can never change them.

Order matters to a gate: the findings and the verdict are printed and every requested report
is written before any tracking starts, so an MLflow outage costs one warning line, never the
exit code or a report.  Unchanged programs come from the audit cache (carverify.audit_cache).
"""
from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from carverify.errors import CarverifyError, UsageError
from carverify.result import AuditReport

EXIT_ACCEPTED, EXIT_REJECTED, EXIT_INTERNAL = 0, 1, 3
REPORT_FORMATS = ("json", "junit", "sarif")
# How long tracking may run after the verdict before the gate stops waiting for it.
TRACKING_TIMEOUT_ENV = "CARVERIFY_TRACKING_TIMEOUT"
_TRACKING_TIMEOUT = 60.0
_STATUS_AFTER = 2.0


@dataclass
class Plan:
    programs: list[str]
    suite: str
    stages: tuple[str, ...] | None = None
    limits: tuple[tuple[str, object], ...] = ()
    cache: bool = True
    track: bool = True
    tracking_uri: str | None = None
    reports: dict[str, str] = field(default_factory=dict)   # format -> path ('-' for stdout)
    fmt: str = "text"        # text, or github (workflow-command annotations)
    workers: int | None = None
    ray_address: str | None = None
    quiet: bool = False
    color: bool = False


def plan_from_args(args) -> Plan:
    """The command line over `[tool.carverify]` over the defaults."""
    from carverify import settings as config

    found = config.load()
    programs = list(args.programs)
    if not programs:
        patterns = found.get("programs")
        if not patterns:
            raise UsageError("no programs to audit: name files or folders, or set programs = [...] "
                             "in [tool.carverify] of pyproject.toml")
        programs = config.expand_globs(found, patterns)
    suite = args.suite or found.get("suite")
    if not suite:
        raise UsageError("no suite: pass --suite NAME, or set suite = \"NAME\" in [tool.carverify] of pyproject.toml")
    stages = args.stages or found.get("stages")
    track = False if args.no_track else bool(found.get("track", True))
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    return Plan(programs=expand_programs(programs), suite=suite, stages=tuple(stages) if stages else None,
                limits=tuple(sorted(found.get("limits", {}).items())),
                cache=False if args.no_cache else bool(found.get("cache", True)),
                track=track, tracking_uri=args.tracking_uri or found.get("tracking-uri"),
                reports={f: getattr(args, f) for f in REPORT_FORMATS if getattr(args, f)},
                fmt=args.format, workers=args.workers, ray_address=args.ray_address,
                quiet=args.quiet, color=color)


def expand_programs(names: list[str]) -> list[str]:
    """The files to audit: each name as given, a folder as the .py files below it (sorted)."""
    found: list[str] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            inside = sorted(str(p) for p in path.rglob("*.py")
                            if p.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                                       for part in p.relative_to(path).parts))
            if not inside:
                raise UsageError(f"no .py files in {name}")
            found += inside
        elif os.path.lexists(name):
            found.append(name)  # the reader refuses what is not a regular file, saying what it is
        else:
            raise UsageError(f"cannot read {name}: no such file")
    return found


def check_report_targets(reports: dict[str, str]) -> None:
    """Every report path must be writable as given: a missing folder is the caller's typo, not ours to create."""
    for fmt, target in reports.items():
        if target == "-":
            continue
        path = Path(target)
        if path.is_dir():
            raise UsageError(f"cannot write the {fmt} report to {target}: it is a directory")
        parent = path.parent
        if not parent.is_dir():
            what = "does not exist" if not parent.exists() else "is not a directory"
            raise UsageError(f"cannot write the {fmt} report to {target}: the folder {parent} {what}")


def run(plan: Plan) -> int:
    from carverify import audit_cache, distributed
    from carverify.audit import read_program, stage_function
    from carverify.report import render
    from carverify.suite import load_suite

    suite = load_suite(plan.suite)
    for stage in plan.stages or ():
        stage_function(stage)
    check_report_targets(plan.reports)
    if plan.track:
        _warm_up_mlflow()
    limits = dict(plan.limits)
    raws = [read_program(p) for p in plan.programs]
    reports: list[AuditReport | None] = [None] * len(raws)
    finished: list[float | None] = [None] * len(raws)   # when each fresh audit ended, for MLflow's run times
    keys = [audit_cache.key(raw, suite, plan.stages, limits) for raw in raws] if plan.cache else []
    if plan.cache:
        for i, path in enumerate(plan.programs):
            reports[i] = audit_cache.load(keys[i], path)
    sweep_view = len(raws) > 1 or plan.workers or plan.ray_address
    to_stdout = "-" in plan.reports.values()
    printer = _LinePrinter(reports, plan.color, show=bool(sweep_view) and not to_stdout and not plan.quiet)
    printer.flush()
    missing = [i for i, r in enumerate(reports) if r is None]
    seconds, retried = 0.0, []
    if missing:
        jobs = [distributed.AuditJob(str(Path(plan.programs[i])), plan.suite, plan.stages, plan.limits)
                for i in missing]

        def on_report(index, report, source):
            where = missing[index]
            reports[where], finished[where] = report, time.time()
            if plan.cache:
                audit_cache.store(keys[where], report)
            printer.flush()

        sweep = distributed.audit_many(jobs, workers=plan.workers, address=plan.ray_address, on_report=on_report)
        seconds, retried = sweep.seconds, [missing[i] for i in sweep.retried]
    done: list[AuditReport] = [r for r in reports if r is not None]
    _print_verdicts(plan, done, sweep_view, to_stdout, seconds, retried)
    for fmt, target in plan.reports.items():
        write(target, render(done, fmt))
    code = exit_code(done)
    sys.stdout.flush()
    if plan.track:
        fresh = [(r, raws[i], finished[i]) for i, r in enumerate(done) if not r.cached]
        if fresh:
            track(fresh, plan)
    return code


def exit_code(reports) -> int:
    """3 if any audit broke, else 1 if any program was rejected, else 0."""
    verdicts = {r.verdict for r in reports}
    return EXIT_INTERNAL if "error" in verdicts else EXIT_REJECTED if "rejected" in verdicts else EXIT_ACCEPTED


def _print_verdicts(plan: Plan, reports: list[AuditReport], sweep_view, to_stdout: bool, seconds: float,
                    retried: list[int]) -> None:
    from carverify import distributed
    from carverify.report import render
    from carverify.report.text import render_text

    if to_stdout:
        return  # stdout carries the JSON document alone
    if plan.fmt == "github":
        annotations = render(reports, "github")
        if annotations:
            print(annotations)
    if sweep_view:
        sweep = distributed.Sweep(reports, retried, seconds, plan.workers, plan.ray_address)
        print(distributed.summary_line(sweep) + _cached_note(reports))
    elif plan.fmt == "github" or plan.quiet:
        print(distributed.program_line(reports[0]) + _cached_note(reports))
    else:
        text = render_text(reports[0], color=plan.color)
        print(text + _cached_note(reports))


def _cached_note(reports: list[AuditReport]) -> str:
    cached = sum(r.cached for r in reports)
    if not cached:
        return ""
    if len(reports) == 1:
        return "  (cached: unchanged since its last audit; --no-cache to audit again)"
    return f"; {cached} cached (unchanged since their last audit; --no-cache to audit again)"


class _LinePrinter:
    """One line per program of a sweep, in the given order, as soon as every earlier one is in."""

    def __init__(self, reports: list, color: bool, show: bool):
        self.reports, self.show, self.next = reports, show, 0
        self.paint = (lambda text, code: f"\x1b[{code}m{text}\x1b[0m") if color else None

    def flush(self) -> None:
        from carverify import distributed

        while self.show and self.next < len(self.reports) and self.reports[self.next] is not None:
            report = self.reports[self.next]
            print(distributed.program_line(report, self.paint) + ("  (cached)" if report.cached else ""), flush=True)
            # Every finding under its program, indented: a hook or CI log must say what to fix, not only codes.
            for finding in report.findings:
                print("    " + finding.render(report.program_path).replace("\n", "\n    "), flush=True)
            self.next += 1


def write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------------------- tracking


def _warm_up_mlflow() -> None:
    """Import mlflow while the audit runs (it takes seconds), so logging after the verdict starts at once."""
    def load():
        try:
            from carverify.tracking import _quiet_mlflow
            with _quiet_mlflow():
                pass
        except Exception:  # noqa: BLE001 - tracking reports its own failure later, once
            pass

    threading.Thread(target=load, name="carverify-mlflow-import", daemon=True).start()


def track(fresh: list[tuple[AuditReport, bytes, float | None]], plan: Plan) -> None:
    """Log the fresh audits to MLflow, bounded in time; any failure is one warning line on stderr."""
    from carverify.tracking import default_tracking_uri

    uri = plan.tracking_uri or default_tracking_uri()
    timeout = _timeout()
    outcome: dict[str, str] = {}

    def work():
        try:
            _log(fresh, plan, uri)
        except CarverifyError as exc:
            outcome["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - whatever MLflow raises, the verdict stands
            outcome["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        finally:
            outcome.setdefault("done", "yes")

    worker = threading.Thread(target=work, name="carverify-tracking", daemon=True)
    worker.start()
    worker.join(_STATUS_AFTER)
    if worker.is_alive():
        print(f"carverify: logging {len(fresh)} audit{'s' if len(fresh) != 1 else ''} to MLflow at "
              f"{_masked(uri)} (at most {timeout:.0f} s; the verdict above is final)", file=sys.stderr, flush=True)
        worker.join(max(timeout - _STATUS_AFTER, 0.0))
    if worker.is_alive():
        _warn(f"MLflow tracking at {_masked(uri)} did not finish within {timeout:.0f} s; stopped waiting "
              f"(set {TRACKING_TIMEOUT_ENV} to wait longer)")
    elif "error" in outcome:
        _warn(f"MLflow tracking failed: {outcome['error']}")


def _log(fresh: list[tuple[AuditReport, bytes, float | None]], plan: Plan, uri: str) -> None:
    from carverify import distributed
    from carverify.tracking import log_audit

    runs = [(r, raw.decode("utf-8", "surrogateescape"), end) for r, raw, end in fresh]
    if len(plan.programs) == 1 and not (plan.workers or plan.ray_address):
        report, source, end = runs[0]
        log_audit(report, source, tracking_uri=uri, finished=end)
        return
    tracker = distributed.SweepTracker(uri)
    tracker.start({"programs": len(plan.programs), "audited": len(runs), "suite": plan.suite,
                   "stages": " ".join(plan.stages or ["all"]), "workers": plan.workers or "-",
                   "ray_address": plan.ray_address or "-"},
                  run_name=f"sweep-{len(plan.programs)}-{plan.suite}")
    try:
        for report, source, end in runs:
            tracker.log(report, source, finished=end)
    except BaseException:
        tracker.finish(None)
        raise
    tracker.finish(distributed.Sweep([r for r, _, _ in runs], [], sum(r.seconds for r, _, _ in runs),
                                     plan.workers, plan.ray_address))


def _timeout() -> float:
    text = os.environ.get(TRACKING_TIMEOUT_ENV)
    try:
        return max(float(text), 0.0) if text else _TRACKING_TIMEOUT
    except ValueError:
        return _TRACKING_TIMEOUT


def _masked(uri: str) -> str:
    from urllib.parse import urlparse

    password = urlparse(uri).password
    return uri.replace(password, "***") if password else uri


def _warn(text: str) -> None:
    line = " ".join(text.split())
    print(f"carverify: warning: {line} (the verdict and reports are unaffected)", file=sys.stderr, flush=True)
