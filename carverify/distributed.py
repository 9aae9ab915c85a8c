"""Sweeps on Ray: audit many programs, or train many (reward, seed) runs, on a local instance or a cluster.

Ray is imported only on the Ray path (``pip install 'carverify[ray]'``); a sweep without
workers or an address never touches it.  Each Ray task runs what a sequential run does (an
audit, in a worker that starts its own sandbox child with the same limits; or
carverify.train.run_seed), and one loop (`_run_tasks`) retries a task whose worker died once.

Tracking: the driver logs every result as it comes back, each run a child of a parent run,
all in one experiment; a training run's evaluations also reach it while the run trains,
through a small actor the workers post to.  Workers never open the store: SQLite is a file
on the driver's disk that a remote worker cannot reach and that concurrent writers would lock.
"""
from __future__ import annotations

import collections
import contextlib
import json
import logging
import math
import os
import socket
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Sequence

from carverify.errors import CarverifyError, InternalError, UsageError
from carverify.result import AuditReport, Finding, StageResult

# Test-only hook, read by the Ray worker: comma-separated names, each optionally suffixed
# ":always".  A worker about to audit a program of that file name, or to train a run named
# REWARD-seedN, exits at once (os._exit(1)): on the first attempt only, or on every attempt.
DIE_ENV = "CARVERIFY_TEST_WORKER_DIES"
ATTEMPTS = 2  # a worker that dies is retried once, then the program is reported as an error
# Only small reports and counterexample frames travel through the object store.
_LOCAL_OBJECT_STORE_BYTES = 256 << 20

OnReport = Callable[[int, AuditReport, str], None]


@dataclass(frozen=True)
class AuditJob:
    """One program to audit: a path the driver reads, a suite name, optional stages."""

    path: str
    suite: str
    stages: tuple[str, ...] | None = None
    limits: tuple[tuple[str, object], ...] = ()   # Limits fields to override ([tool.carverify.limits])

    def config(self):
        from carverify.config import AuditConfig
        from sandbox import Limits

        return AuditConfig(limits=Limits(**dict(self.limits))) if self.limits else AuditConfig()


class Sweep(NamedTuple):
    reports: list[AuditReport]   # in job order
    retried: list[int]           # jobs whose worker died once and that ran again
    seconds: float               # audits only, without Ray start-up
    workers: int | None          # None: sequential, in this process
    address: str | None


def audit_many(jobs: Sequence[AuditJob], *, workers: int | None = None, address: str | None = None,
               on_report: OnReport | None = None) -> Sweep:
    """Audit every job; on Ray if `workers` or `address` is given, else one after another here.

    Every job gets a report: a program whose worker died twice, or whose audit raised, is
    reported with verdict "error".  `on_report(index, report, source)` is called in the driver
    as each report arrives (completion order on Ray).  An unreadable file is a UsageError
    before any audit starts.
    """
    from carverify.audit import stage_function
    from carverify.suite import load_suite

    jobs = list(jobs)
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")
    # Misuse fails here, once, rather than as an error report per program from every worker.
    for name in {job.suite for job in jobs}:
        load_suite(name)
    for stage in {s for job in jobs for s in job.stages or ()}:
        stage_function(stage)
    raws = [_read(job.path) for job in jobs]
    callback = on_report or (lambda index, report, source: None)
    if workers is None and address is None:
        return _sequential(jobs, raws, callback)
    return _on_ray(jobs, raws, workers, address, callback)


def _read(path: str) -> bytes:
    from carverify.audit import read_program

    return read_program(path)


def _source(raw: bytes) -> str:
    # As audit_file decodes: undecodable bytes survive as surrogates for the parse stage (CV104).
    return raw.decode("utf-8", "surrogateescape")


def _audit(job: AuditJob, raw: bytes) -> AuditReport:
    """What `audit_file(job.path, job.suite, stages=job.stages)` returns, from bytes already read."""
    from carverify.audit import audit_source

    start = time.perf_counter()
    try:
        return audit_source(_source(raw), job.suite, path=job.path, stages=job.stages, config=job.config())
    except CarverifyError:
        raise  # misuse (unknown suite or stage) is the caller's, not one program's
    except Exception as exc:  # noqa: BLE001 - one program's broken audit must not end the sweep
        return error_report(job, raw, f"internal error while auditing: {type(exc).__name__}: {exc}",
                            seconds=time.perf_counter() - start)


def error_report(job: AuditJob, raw: bytes, message: str, *, hint: str | None = None,
                 seconds: float = 0.0) -> AuditReport:
    """A report with verdict "error" for a program whose audit could not run to the end."""
    from carverify.audit import available_stages
    from carverify.candidate import Candidate

    stages = tuple(job.stages) if job.stages else available_stages()
    results = [StageResult(stages[0], "error", [Finding("CV000", message, hint=hint)])]
    results += [StageResult(name, "skipped") for name in stages[1:]]
    return AuditReport(program_path=job.path, program_sha256=Candidate(_source(raw), job.path).sha256,
                       suite=job.suite, stages=results, limits=job.config().limits.to_dict(),
                       seconds=seconds)


def _sequential(jobs, raws, on_report) -> Sweep:
    start = time.perf_counter()
    reports = []
    for index, (job, raw) in enumerate(zip(jobs, raws)):
        reports.append(_audit(job, raw))
        on_report(index, reports[-1], _source(raw))
    return Sweep(reports, [], time.perf_counter() - start, None, None)


# ---------------------------------------------------------------------------------- Ray


def _import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError("--workers and --ray-address need Ray: pip install 'carverify[ray]'") from None
    return ray


@contextlib.contextmanager
def ray_session(workers: int | None = None, address: str | None = None):
    """Use the Ray instance this process is already connected to, else connect to `address`,
    else start a quiet local instance with `workers` CPUs; shut down only what was started here."""
    ray = _import_ray()
    if ray.is_initialized():
        # Library use: a caller that connected first.  Sending a sweep meant for another
        # cluster to this one would be silent and wrong, so a different address is refused.
        current = ray.get_runtime_context().gcs_address
        if address and not _same_instance(address, current):
            raise UsageError(f"this process is already connected to Ray at {current}; it cannot also use {address} "
                             "(call ray.shutdown() first, or leave the address out)")
        yield ray
        return
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    restore = _raylet_messages_to_log()
    said = b""
    try:
        if address:
            _probe(address)
            with _stderr_kept() as kept:
                try:
                    ray.init(address=address, **quiet)
                finally:
                    said = kept()
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False,
                     object_store_memory=_LOCAL_OBJECT_STORE_BYTES, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        restore()
        where = f"Ray at {address}" if address else "a local Ray instance"
        if b"InvalidAuthToken" in said:
            raise InternalError(f"{where} refused this driver's authentication token: set RAY_AUTH_TOKEN to the "
                                "cluster's token (`ray get-auth-token` on the head node)") from exc
        raise InternalError(f"cannot start or reach {where}: {_first_line(exc)}") from exc
    if said:  # connected after all: what Ray's C++ client printed on the way is the user's to see
        os.write(2, said)
    try:
        yield ray
    finally:
        ray.shutdown()
        restore()


@contextlib.contextmanager
def _stderr_kept():
    """Hold what is written to file descriptor 2 (Ray's C++ client logs there, not via Python).

    While connecting to a cluster, a refused token makes Ray log one InvalidAuthToken line per
    second for ~10 s; we turn that into one line of our own.  Yields a function returning
    the bytes held so far; file descriptor 2 is restored on exit.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            def kept() -> bytes:
                held.seek(0)
                return held.read()
            yield kept
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _split_address(address: str) -> tuple[str, int] | None:
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit():
        return None  # "auto", "local", ray://…: Ray resolves and reports these itself
    return host.strip("[]"), int(port)


def _same_instance(address: str, current: str) -> bool:
    """Whether HOST:PORT names the GCS at `current`; anything but HOST:PORT is taken as the user's to judge.

    Ray reports a local head by this machine's outward address, while users write
    127.0.0.1 or localhost for it, so two local names for one port are the same instance.
    """
    asked, there = _split_address(address), _split_address(current)
    if asked is None or there is None:
        return True
    if asked[1] != there[1]:
        return False
    resolved = {_resolve(asked[0]), _resolve(there[0])}
    if len(resolved) == 1:
        return True
    local = _local_addresses()
    return all(ip.startswith("127.") or ip in local for ip in resolved)


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


def _local_addresses() -> set[str]:
    names = {"127.0.0.1", "0.0.0.0"}
    try:
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    # The address the kernel would leave by: what Ray picks for a head started on this machine.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET: no packet is sent by a UDP connect
        names.add(probe.getsockname()[0])
    return names


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on: Ray itself retries for minutes, printing as it goes."""
    parts = _split_address(address)
    if parts is None:
        return
    try:
        socket.create_connection(parts, timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or exc})") from exc


def _raylet_messages_to_log():
    """Send the messages Ray's driver prints to stdout (e.g. "A worker died…") to our debug log.

    Ray prints them whatever log_to_driver says, into the middle of `--json -` output and of the
    per-program lines; the report already says which program's worker died.  Returns the undo.
    """
    try:
        from ray._private import worker as ray_worker
        original = ray_worker.print_to_stdstream
    except (ImportError, AttributeError):  # another Ray version: its messages stay as they are
        return lambda: None
    log = logging.getLogger(__name__)

    def to_log(data, *args, **kwargs):
        for line in data.get("lines", ()):
            log.debug("ray %s: %s", data.get("pid", "?"), line)

    ray_worker.print_to_stdstream = to_log
    return lambda: setattr(ray_worker, "print_to_stdstream", original)


def _cap(workers: int | None, address: str | None, n: int) -> int:
    # A local instance already runs at most `workers` tasks at once; on a cluster, --workers
    # caps how many of its CPUs this sweep takes.
    return workers if (workers and address) else max(n, 1)


def _run_tasks(ray, remote, payloads: Sequence[tuple], cap: int, retried: list[int], *,
               tick: Callable[[], None] | None = None, every: float = 1.0):
    """Run `remote(*payload, attempt)` for every payload, at most `cap` at once.

    Yields `(index, value, error, lost)` in completion order: the task's return value, or the
    error text of a task whose own code raised (not retried: it would raise again), or, with
    `lost` true, of one whose worker died on every one of ATTEMPTS attempts.  Interrupted, it
    cancels what is still running, so a shared cluster is not left working for nobody.
    `tick()` runs every `every` seconds while waiting, and before each result is yielded.
    """
    from ray import exceptions as ray_errors

    queue = collections.deque((index, 0) for index in range(len(payloads)))
    pending: dict = {}

    def submit():
        while queue and len(pending) < cap:
            index, attempt = queue.popleft()
            pending[remote.remote(*payloads[index], attempt)] = (index, attempt)

    submit()
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=every if tick else None)
            if tick:
                tick()
            if not ready:
                continue
            [ref] = ready
            index, attempt = pending.pop(ref)
            try:
                value, error, lost = ray.get(ref), None, False
            except ray_errors.RayTaskError as exc:  # our own code raised
                value, error, lost = None, f"internal error in the Ray task: {_first_line(getattr(exc, 'cause', None) or exc)}"
            except ray_errors.RayError as exc:  # the worker, its node or its result was lost
                if attempt + 1 < ATTEMPTS:
                    retried.append(index)
                    queue.appendleft((index, attempt + 1))
                    submit()
                    continue
                value, error, lost = None, (f"died on all {ATTEMPTS} attempts "
                                            f"({type(exc).__name__}: {_first_line(exc)})"), True
            submit()  # before the caller's logging, so workers never wait on the driver
            yield index, value, error, lost
    finally:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


def _on_ray(jobs, raws, workers, address, on_report) -> Sweep:
    with ray_session(workers, address) as ray:
        # Retries are ours, not Ray's: exactly one more attempt, with the attempt number known.
        remote = ray.remote(num_cpus=1, max_retries=0)(_audit_in_worker)
        reports: list[AuditReport | None] = [None] * len(jobs)
        retried: list[int] = []
        start = time.perf_counter()
        payloads = list(zip(jobs, raws))
        for index, value, error, lost in _run_tasks(ray, remote, payloads, _cap(workers, address, len(jobs)),
                                                    retried):
            job, raw = payloads[index]
            if error is None:
                report, files = value
                _materialize(files)
            elif lost:
                report = error_report(job, raw, f"the Ray worker auditing this program {error}", hint=_LOST_HINT)
            else:
                report = error_report(job, raw, error)
            reports[index] = report
            on_report(index, report, _source(raw))
        return Sweep(reports, retried, time.perf_counter() - start, workers, address)


_LOST_HINT = ("carverify's infrastructure failed, not the program: check the Ray node's memory and logs, "
              "then audit it again")


def _audit_in_worker(job: AuditJob, raw: bytes, attempt: int):
    """The Ray task: one audit, plus the bytes of every artifact it saved.

    It runs in a fresh temporary directory, so files an audit writes relative to its working
    directory (counterexamples) are collected here and recreated by the driver at the same
    relative paths, as a sequential run in the driver's directory would have left them.
    """
    _die_if_asked(Path(job.path).name, attempt)
    home = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="carverify-ray-") as tmp:
        os.chdir(tmp)
        try:
            report = _audit(job, raw)
            files = {path: Path(path).read_bytes() for path in report.artifacts.values() if Path(path).is_file()}
        finally:
            os.chdir(home)
    return report, files


def _die_if_asked(name: str, attempt: int) -> None:
    wanted = os.environ.get(DIE_ENV)
    if not wanted:
        return
    for entry in wanted.split(","):
        key, _, when = entry.strip().partition(":")
        if key == name and (when == "always" or attempt == 0):
            os._exit(1)


def _materialize(files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = Path(path)
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _first_line(exc: object) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


# ------------------------------------------------------------------------- reporting


def exit_code(reports: Iterable[AuditReport]) -> int:
    """3 if any audit broke, else 1 if any program was rejected, else 0."""
    verdicts = {r.verdict for r in reports}
    return 3 if "error" in verdicts else 1 if "rejected" in verdicts else 0


def program_line(report: AuditReport, paint=None) -> str:
    """The verdict line, followed by the codes found: `REJECTED  p.py  (suite …)  CV204 CV301`."""
    from carverify.report.text import verdict_line

    codes = list(dict.fromkeys(f.code for f in report.findings))
    more = f" (+{len(codes) - 5})" if len(codes) > 5 else ""
    return verdict_line(report, paint) + (f"  {' '.join(codes[:5])}{more}" if codes else "")


def summary_line(sweep: Sweep) -> str:
    counts = collections.Counter(r.verdict for r in sweep.reports)
    n = len(sweep.reports)
    if sweep.workers is None and sweep.address is None:
        where = "sequential"
    else:
        where = (f"Ray at {sweep.address}" if sweep.address else "local Ray") + (
            f", {sweep.workers} worker{'s' if sweep.workers != 1 else ''}" if sweep.workers else "")
    rate = f", {n / sweep.seconds:.1f} audits/s" if sweep.seconds > 0 else ""
    retried = f"; {len(sweep.retried)} retried after a worker died" if sweep.retried else ""
    return (f"{n} program{'s' if n != 1 else ''}: {counts['accepted']} accepted, {counts['rejected']} rejected, "
            f"{counts['error']} error{'s' if counts['error'] != 1 else ''} ({where}, {sweep.seconds:.1f} s{rate})"
            f"{retried}")


def render_many(reports: Sequence[AuditReport], fmt: str) -> str:
    """Several reports in one file: the same document shape as for one (see carverify.report)."""
    from carverify.report import render

    return render(reports, fmt)


# -------------------------------------------------------------------------- tracking


class SweepTracker:
    """One MLflow parent run for a sweep; every audit a child run in the same experiment.

    Everything is logged from the driver, one run at a time: see the module docstring.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None):
        from carverify.tracking import DEFAULT_EXPERIMENT, default_tracking_uri

        self.uri = tracking_uri or default_tracking_uri()
        self.experiment = experiment or DEFAULT_EXPERIMENT
        self.run_id: str | None = None
        self._client = None

    def start(self, params: dict[str, object], run_name: str | None = None) -> str:
        from mlflow.entities import Param

        from carverify import __version__
        from carverify.tracking import _client, _env, _experiment_id, _failure, _PROBE_ENV, _quiet_mlflow

        with _quiet_mlflow(), _env({"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}, force=True):
            from mlflow.exceptions import MlflowException

            try:
                self._client = _client(self.uri)
            except MlflowException as exc:  # mlflow rejects the URI itself
                raise _failure(UsageError, "cannot use MLflow tracking URI {uri}", self.uri, exc) from exc
            except Exception as exc:
                raise _failure(InternalError, "cannot open MLflow tracking at {uri}", self.uri, exc) from exc
            try:
                with _env(_PROBE_ENV):
                    experiment_id = _experiment_id(self._client, self.experiment, self.uri)
            except Exception as exc:  # a refused or dropped connection arrives wrapped in MlflowException
                raise _failure(InternalError, "cannot reach MLflow tracking at {uri}", self.uri, exc) from exc
            run = self._client.create_run(experiment_id, run_name=run_name or "audit-sweep",
                                          tags={"carverify.version": __version__, "carverify.sweep": "true"})
            self.run_id = run.info.run_id
            self._client.log_batch(self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])
        return self.run_id

    def log(self, report: AuditReport, source: str, finished: float | None = None) -> str:
        from carverify.tracking import log_audit

        return log_audit(report, source, tracking_uri=self.uri, experiment=self.experiment,
                         parent_run_id=self.run_id, finished=finished)

    def finish(self, sweep: Sweep | None) -> None:
        """Summary metrics and FINISHED; without a sweep (interrupted, failed) the run is FAILED."""
        if self.run_id is None:
            return
        from mlflow.entities import Metric

        from carverify.tracking import _quiet_mlflow

        with _quiet_mlflow():
            if sweep is not None:
                counts = collections.Counter(r.verdict for r in sweep.reports)
                values = {"programs": len(sweep.reports), "accepted": counts["accepted"],
                          "rejected": counts["rejected"], "errors": counts["error"],
                          "retried": len(sweep.retried), "seconds": sweep.seconds}
                if sweep.seconds > 0:
                    values["audits_per_second"] = len(sweep.reports) / sweep.seconds
                now = int(time.time() * 1000)
                self._client.log_batch(self.run_id, metrics=[
                    Metric(k, float(v), now, 0) for k, v in values.items() if math.isfinite(float(v))])
                self._client.set_tag(self.run_id, "verdict", _worst(sweep.reports))
            self._client.set_terminated(self.run_id, status="FINISHED" if sweep is not None else "FAILED")


def _worst(reports: Iterable[AuditReport]) -> str:
    return {0: "accepted", 1: "rejected", 3: "error"}[exit_code(reports)]


# --------------------------------------------------------------------------- training


def train_many(plan, tasks: Sequence[tuple[str, int]], *, run, failed, workers: int | None = None,
               address: str | None = None, on_result=None, on_metrics=None, progress: bool = True) -> None:
    """Every (reward, seed) of a training sweep as one Ray task; `on_result(result, model_bytes)` in the driver.

    Each task runs `run` (carverify.train.run_seed, the function a sequential run calls; passed
    in, so that this module does not import the trainer that imports it), and sends
    back the RunResult (curves and every metric it would have logged) and the model's bytes:
    the driver logs to MLflow and writes files, as for audits.  While runs train, their
    evaluations reach `on_metrics(reward, seed, metrics, step)` and their steps the progress
    bar, through a small actor the workers post to.  A run whose worker dies twice is
    reported as `failed(reward, seed, error)` (a RunResult with `error` set) and no model.
    """
    on_result = on_result or (lambda result, model: None)
    with ray_session(workers, address) as ray, _StepsBar(len(tasks), plan.steps, address, progress) as bar:
        # One CPU per run: run_seed uses one torch thread and keeps its envs in its own process.
        remote = ray.remote(num_cpus=1, max_retries=0)(_train_in_worker)
        inbox = ray.remote(num_cpus=0)(_Inbox).remote()
        payloads = [(run, plan, reward, seed, inbox, index) for index, (reward, seed) in enumerate(tasks)]

        def deliver():
            nonlocal inbox
            if inbox is None:
                return
            try:
                messages = ray.get(inbox.take.remote())
            except Exception:  # noqa: BLE001 - the inbox's node went away: results still carry every metric
                inbox = None
                return
            for index, step, metrics in messages:
                reward, seed = tasks[index]
                bar.advance(index, step)
                if metrics is not None and on_metrics is not None:
                    on_metrics(reward, seed, metrics, step)

        for index, value, error, lost in _run_tasks(ray, remote, payloads, _cap(workers, address, len(tasks)), [],
                                                    tick=deliver):
            reward, seed = tasks[index]
            if error is None:
                result, model = value
            else:
                if lost:
                    error = f"the Ray worker training this run {error}"
                result, model = failed(reward, seed, error), None
            on_result(result, model)
            bar.finish(index, f"{reward} seed {seed}: "
                       + ("error" if error else f"success {result.final_success:.2f}"))


class _Inbox:
    """A Ray actor: training workers post (task index, step, metrics or None) here; the driver takes them."""

    def __init__(self):
        self.messages: list[tuple[int, int, dict | None]] = []

    def post(self, index: int, step: int, metrics: dict | None) -> None:
        self.messages.append((index, step, metrics))

    def take(self) -> list[tuple[int, int, dict | None]]:
        messages, self.messages = self.messages, []
        return messages


class _StepsBar:
    """One bar over every run's env steps, shown once Ray is up (a bad address fails without a stray bar).

    A run counts up to the steps asked of it: PPO may overshoot to finish a rollout, a run
    stopped early (--stop-at) or failed jumps to its end, and a retried run does not count twice.
    """

    def __init__(self, runs: int, steps: int, address: str | None, enabled: bool):
        self.runs, self.steps, self.address, self.enabled = runs, steps, address, enabled
        self.counted: dict[int, int] = {}
        self.finished = 0
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from tqdm.auto import tqdm

            where = f"Ray at {self.address}" if self.address else "local Ray"
            self.bar = tqdm(total=self.runs * self.steps, desc=f"train on {where}", unit="step",
                            dynamic_ncols=True)
            self.bar.set_postfix_str(f"0/{self.runs} runs done")
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def advance(self, index: int, step: int) -> None:
        step = min(step, self.steps)
        gained = step - self.counted.get(index, 0)
        if gained > 0:
            self.counted[index] = step
            if self.bar is not None:
                self.bar.update(gained)

    def finish(self, index: int, what: str) -> None:
        self.advance(index, self.steps)
        self.finished += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.finished}/{self.runs} runs done; {what}", refresh=True)


def _train_in_worker(run_seed, plan, reward: str, seed: int, inbox, index: int, attempt: int):
    _die_if_asked(f"{reward}-seed{seed}", attempt)
    # Fire and forget: a run never waits on the driver; whatever is lost is in the result too.
    return run_seed(plan, reward, seed, log=lambda metrics, step: inbox.post.remote(index, step, metrics),
                    heartbeat=lambda step: inbox.post.remote(index, step, None))
