"""MLflow for `generate`: a parent run per session, a nested run per round.

Each round's run is the audit's own run (carverify.tracking.log_audit: program,
report.json, stage metrics) plus what only generate knows: the prompt, the images,
the response, tokens and latency.  Rounds without a program get a run of their own.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from carverify import __version__
from carverify.errors import InternalError, UsageError
from carverify.generate.loop import Exchange, Generation, Listener, Round
from carverify.generate.prompts import PROMPT_VERSION, as_text

EXPERIMENT = "carverify-generate"


class GenerateTracker(Listener):
    def __init__(self, tracking_uri: str | None, *, rounds: int, experiment: str = EXPERIMENT):
        from carverify import tracking

        self.tracking = tracking
        self.uri = tracking_uri or tracking.default_tracking_uri()
        self.rounds, self.experiment = rounds, experiment
        self.client = None
        self.parent_id: str | None = None

    # One error style with carverify.tracking: a bad URI is the user's, anything after is ours.
    @contextlib.contextmanager
    def _mlflow(self, what: str):
        t = self.tracking
        with t._quiet_mlflow(), t._env({"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}, force=True):
            from mlflow.exceptions import MlflowException

            try:
                if self.client is None:
                    self.client = t._client(self.uri)
            except MlflowException as exc:
                raise t._failure(UsageError, "cannot use MLflow tracking URI {uri}", self.uri, exc) from exc
            except Exception as exc:
                raise t._failure(InternalError, "cannot open MLflow tracking at {uri}", self.uri, exc) from exc
            try:
                with t._env(t._LOG_ENV):
                    yield self.client
            except (UsageError, InternalError):
                raise
            except Exception as exc:
                raise t._failure(InternalError, f"{what} in MLflow at {{uri}} failed", self.uri, exc) from exc

    def start(self, *, suite: str, provider: str, model: str) -> str:
        t = self.tracking
        with self._mlflow("starting the generate run") as client:
            try:
                with t._env(t._PROBE_ENV):
                    experiment_id = t._experiment_id(client, self.experiment, self.uri)
            except Exception as exc:
                raise t._failure(InternalError, "cannot reach MLflow tracking at {uri}", self.uri, exc) from exc
            run = client.create_run(experiment_id, run_name=f"generate {suite}",
                                    tags={"carverify.version": __version__, "carverify.command": "generate"})
            self.parent_id = run.info.run_id
            for key, value in {"suite": suite, "provider": provider, "model": model, "rounds": self.rounds,
                               "prompt_version": PROMPT_VERSION}.items():
                client.log_param(self.parent_id, key, str(value))
        return self.parent_id

    def decomposed(self, gen: Generation) -> None:
        with self._mlflow("logging the decomposition") as client, tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            self._exchange_files(folder, gen.decompose, gen)
            (folder / "decomposition.json").write_text(json.dumps(gen.decomposition, indent=1), encoding="utf-8")
            client.log_artifacts(self.parent_id, tmp, artifact_path="decompose")
            self._exchange_metrics(client, self.parent_id, gen.decompose, prefix="decompose.")

    def round_done(self, gen: Generation, round_: Round) -> None:
        run_name = f"round {round_.number}"
        if round_.report is not None:
            run_id = self.tracking.log_audit(round_.report, round_.code, tracking_uri=self.uri,
                                             experiment=self.experiment, run_name=run_name,
                                             parent_run_id=self.parent_id)
        else:
            run_id = None
        with self._mlflow(f"logging {run_name}") as client, tempfile.TemporaryDirectory() as tmp:
            if run_id is None:
                experiment_id = client.get_run(self.parent_id).info.experiment_id
                run = client.create_run(experiment_id, run_name=run_name,
                                        tags={"mlflow.parentRunId": self.parent_id, "verdict": round_.verdict})
                run_id = run.info.run_id
            folder = Path(tmp)
            self._exchange_files(folder, round_.exchange, gen)
            if round_.code is not None and round_.report is None:
                (folder / "program.py").write_text(round_.code, encoding="utf-8", errors="surrogateescape")
            if round_.report is None:
                (folder / "findings.json").write_text(
                    json.dumps([f.to_dict() for f in round_.findings], indent=1), encoding="utf-8")
            if round_.feedback:
                (folder / "feedback.txt").write_text(round_.feedback, encoding="utf-8")
            client.log_artifacts(run_id, tmp)
            client.set_tag(run_id, "carverify.step", round_.exchange.step)
            self._exchange_metrics(client, run_id, round_.exchange)
            client.log_metric(run_id, "findings", float(len(round_.findings)))
            client.set_terminated(run_id, status="FINISHED")

    def finished(self, gen: Generation) -> None:
        best = gen.best
        with self._mlflow("finishing the generate run") as client:
            metrics = {"rounds_used": float(len(gen.rounds)), "accepted": float(gen.accepted),
                       **{f"tokens.{k}": float(v) for k, v in gen.usage().items()}}
            if best is not None:
                metrics["best_round"] = float(best.number)
            for key, value in metrics.items():
                client.log_metric(self.parent_id, key, value)
            client.set_tag(self.parent_id, "verdict", "accepted" if gen.accepted else
                           ("rejected" if best is not None else "no program"))
            if best is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    (Path(tmp) / "program.py").write_text(best.code, encoding="utf-8", errors="surrogateescape")
                    from carverify.report.json_report import render_json
                    (Path(tmp) / "report.json").write_text(render_json(best.report), encoding="utf-8")
                    client.log_artifacts(self.parent_id, tmp, artifact_path="best")
            client.set_terminated(self.parent_id, status="FINISHED")

    def failed(self) -> None:
        """End the parent run as FAILED after an error; never raises over the original error."""
        if self.parent_id is None or self.client is None:
            return
        with contextlib.suppress(Exception):
            self.client.set_terminated(self.parent_id, status="FAILED")

    @staticmethod
    def _exchange_files(folder: Path, exchange: Exchange, gen: Generation) -> None:
        (folder / "prompt.txt").write_text(as_text(exchange.messages), encoding="utf-8")
        (folder / "response.txt").write_text(exchange.completion.text, encoding="utf-8")
        images = folder / "images"
        images.mkdir()
        for name, png in gen.frames.pngs().items():
            (images / name).write_bytes(png)

    @staticmethod
    def _exchange_metrics(client, run_id: str, exchange: Exchange, prefix: str = "") -> None:
        client.log_metric(run_id, f"{prefix}latency_seconds", float(exchange.completion.latency_seconds))
        for key, value in exchange.completion.usage.items():
            client.log_metric(run_id, f"{prefix}tokens.{key}", float(value))
