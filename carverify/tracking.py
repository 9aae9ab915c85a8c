"""Log an `AuditReport` to MLflow: an embedded SQLite store by default, or any tracking server."""
from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from carverify import __version__
from carverify.errors import InternalError, UsageError
from carverify.report.json_report import render_json
from carverify.result import AuditReport

DEFAULT_EXPERIMENT = "carverify-audit"
# A reachability probe must fail fast: mlflow's defaults (7 retries, 120 s timeout, backoff 2)
# turn a typo in --tracking-uri into minutes of silence.
_PROBE_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
# Once the server has answered, allow a little patience for uploads, still bounded.
_LOG_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
_QUIET_LOGGERS = ("mlflow", "alembic")


def default_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else `sqlite:///<cache>/mlruns.db` (artifacts in `<cache>/mlruns`).

    The cache folder, not the working directory: a gate must not leave files in the checkout.
    """
    from carverify.cachedir import cache_dir

    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    folder = cache_dir().resolve()
    folder.mkdir(parents=True, exist_ok=True)  # sqlite creates the file, never its folder
    return f"sqlite:///{folder / 'mlruns.db'}"


def log_audit(report: AuditReport, source: str, *, tracking_uri: str | None = None,
              experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None,
              parent_run_id: str | None = None, finished: float | None = None) -> str:
    """Record one audit as an MLflow run and return the run id.

    `finished`: when the audit ended (time.time()); the run spans the audit's own seconds up to
    it, not the moment of logging (the gate logs after the verdict, maybe much later).
    """
    uri = tracking_uri or default_tracking_uri()
    with _quiet_mlflow(), _env({"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}, force=True):
        from mlflow.exceptions import MlflowException

        try:
            client = _client(uri)
        except MlflowException as exc:  # mlflow rejects the URI itself: the caller's mistake
            raise _failure(UsageError, "cannot use MLflow tracking URI {uri}", uri, exc) from exc
        except Exception as exc:
            raise _failure(InternalError, "cannot open MLflow tracking at {uri}", uri, exc) from exc
        try:
            with _env(_PROBE_ENV):
                experiment_id = _experiment_id(client, experiment, uri)
        except Exception as exc:
            raise _failure(InternalError, "cannot reach MLflow tracking at {uri}", uri, exc) from exc
        try:
            with _env(_LOG_ENV):
                return _log_run(client, experiment_id, report, source, run_name, parent_run_id, finished)
        except Exception as exc:
            raise _failure(InternalError, "logging the audit to MLflow at {uri} failed",
                           uri, exc) from exc


# MLflow 3 opens an experiment without this tag on its GenAI overview; ours are runs to compare.
_EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def _experiment_id(client, name: str, uri: str) -> str:
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        if _EXPERIMENT_KIND[0] not in found.tags:
            client.set_experiment_tag(found.experiment_id, *_EXPERIMENT_KIND)
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=_artifact_location(uri),
                                        tags=dict([_EXPERIMENT_KIND]))
    except MlflowException:
        # Another audit created it between our lookup and create.
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _artifact_location(uri: str) -> str | None:
    # An embedded SQLite store keeps artifacts next to the database file, not wherever the
    # process happened to start; a server decides for itself.
    if not uri.startswith("sqlite:///"):
        return None
    database = Path(uri[len("sqlite:///"):].split("?", 1)[0])
    return (database.resolve().parent / "mlruns").as_uri()


def _log_run(client, experiment_id: str, report: AuditReport, source: str,
             run_name: str | None, parent_run_id: str | None, finished: float | None = None) -> str:
    from mlflow.entities import Metric, Param

    from carverify.report.text import render_text

    codes = sorted({f.code for f in report.findings})
    tags = {"verdict": report.verdict, "carverify.version": __version__,
            "carverify.program": report.program_path, "carverify.suite": report.suite,
            "carverify.codes": " ".join(codes) or "-",
            # The run page shows this as the run's description: what a person reads first.
            "mlflow.note.content": "```\n" + render_text(report) + "\n```",
            **{f"finding.{code}": str(sum(f.code == code for f in report.findings)) for code in codes}}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    end_ms = int((finished if finished is not None else time.time()) * 1000)
    start_ms = end_ms - int(round(report.seconds * 1000))
    run = client.create_run(experiment_id, run_name=run_name or Path(report.program_path).name,
                            tags=tags, start_time=start_ms)
    run_id = run.info.run_id
    try:
        params = {"suite": report.suite, "program_sha256": report.program_sha256,
                  **{f"limit.{k}": v for k, v in report.limits.items()}}
        metrics = _metrics(report)
        client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()],
                         metrics=[Metric(k, v, end_ms, 0) for k, v in metrics.items()])
        with tempfile.TemporaryDirectory(prefix="carverify-mlflow-") as tmp:
            # The CLI decodes with surrogateescape, so undecodable bytes are logged as they were.
            (Path(tmp) / "program.py").write_text(source, encoding="utf-8", errors="surrogateescape")
            (Path(tmp) / "report.json").write_text(render_json(report), encoding="utf-8")
            client.log_artifact(run_id, str(Path(tmp) / "program.py"))
            client.log_artifact(run_id, str(Path(tmp) / "report.json"))
        for name, path in report.artifacts.items():
            _log_path(client, run_id, name, path)
    except BaseException:
        with contextlib.suppress(Exception):  # keep the original error, not a second one
            client.set_terminated(run_id, status="FAILED", end_time=end_ms)
        raise
    client.set_terminated(run_id, status="FINISHED", end_time=end_ms)
    return run_id


def _metrics(report: AuditReport) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for stage in report.stages:
        metrics[f"stage.{stage.stage}.seconds"] = float(stage.seconds)
        metrics[f"stage.{stage.stage}.passed"] = 1.0 if stage.status == "passed" else 0.0
        for name, value in stage.metrics.items():
            # MLflow metrics are finite floats; NaN/inf and non-numbers stay in report.json.
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                metrics[f"{stage.stage}.{name}"] = float(value)
    metrics["seconds"] = float(report.seconds)
    return metrics


def _log_path(client, run_id: str, name: str, path: str) -> None:
    target = Path(path)
    if target.is_dir():
        client.log_artifacts(run_id, str(target), artifact_path=name)
        for frame in sorted(target.glob("*.npy")):
            _log_png(client, run_id, name, frame)
    elif target.is_file():
        client.log_artifact(run_id, str(target), artifact_path=name)
        if target.suffix == ".npy":
            _log_png(client, run_id, name, target)
    else:
        logging.getLogger(__name__).warning("artifact %s not found at %s; not logged", name, path)


# A counterexample frame is often 40x40 pixels: the UI shows PNGs as they are, so blow them up.
PNG_MIN_SIDE = 320


def _log_png(client, run_id: str, name: str, npy: Path) -> None:
    """Log an image frame saved as .npy also as an upscaled PNG the MLflow UI can show; other arrays are skipped."""
    png = counterexample_png(npy)
    if png is None:
        return
    with tempfile.TemporaryDirectory(prefix="carverify-png-") as tmp:
        target = Path(tmp) / (npy.stem + ".png")
        target.write_bytes(png)
        client.log_artifact(run_id, str(target), artifact_path=name)


def counterexample_png(npy: Path) -> bytes | None:
    """PNG bytes of an HxW or HxWx3/4 uint8 frame, each pixel a square block; None if it is not an image."""
    import io

    import numpy as np
    from PIL import Image

    from carverify.errors import UsageError
    from carverify.npy import read_npy

    try:
        frame = read_npy(npy)
    except UsageError:
        return None
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)) \
            or min(frame.shape[:2]) == 0:
        return None
    scale = max(1, -(-PNG_MIN_SIDE // max(frame.shape[:2])))
    big = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)  # nearest neighbour: pixels stay crisp
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(big)).save(buffer, format="PNG")
    return buffer.getvalue()


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """Hide mlflow's INFO chatter (table creation, alembic migrations); warnings still show.

    mlflow configures its loggers when first imported, so import it before lowering them.
    Deprecation warnings raised inside mlflow's own stack are for its maintainers, not ours.
    """
    with warnings.catch_warnings():
        for module in _QUIET_LOGGERS + ("sqlalchemy",):
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        import mlflow  # noqa: F401

        loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


@contextlib.contextmanager
def _env(values: dict[str, str], *, force: bool = False) -> Iterator[None]:
    """Set environment variables for one call; a user's own setting wins unless `force`."""
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if force or key not in os.environ:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _failure(kind: type[Exception], what: str, uri: str, exc: Exception) -> Exception:
    """One line for the user, with any password in the URI masked wherever it appears."""
    text = f"{what.format(uri=uri)}: {_reason(exc)}"
    password = urlparse(uri).password
    return kind(text.replace(password, "***") if password else text)


def _reason(exc: Exception) -> str:
    """The useful end of an error chain: requests buries 'Connection refused' in a long repr."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    text = str(exc).strip()
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if errno:
        return errno.group(1).strip().rstrip(":")
    if "timed out" in text.lower():
        return "timed out"
    line = text.splitlines()[0] if text else type(exc).__name__
    if len(line) > 200:  # mlflow appends paragraphs of advice; the first sentence is the error
        line = line.split(". ", 1)[0]
    return line if len(line) <= 300 else line[:297] + "..."
