"""`carverify train` end to end on a tiny budget: curves, plot, MLflow params/metrics/artifacts."""
import json
from pathlib import Path

import pytest
import torch

from carverify.cli import EXIT_ACCEPTED, EXIT_USAGE, main
from carverify.reward import sha256_of

torch.set_num_threads(1)

SUITE = "minigrid-doorkey-5x5"
PROGRAMS = Path(__file__).resolve().parents[1] / "suites" / SUITE / "programs"


@pytest.mark.slow
def test_tiny_run_logs_params_curves_and_plot(tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    code = main(["train", "--suite", SUITE, "--reward", "car", "sparse", "--steps", "2048", "--seeds", "0",
                 "--eval-every", "1024", "--eval-episodes", "2", "--out", str(tmp_path / "runs"),
                 "--tracking-uri", uri, "--no-progress"])
    assert code == EXIT_ACCEPTED
    out = capsys.readouterr().out
    assert "car        0" in out and "sparse     0" in out

    folder = tmp_path / "runs" / SUITE
    assert (folder / "success_rate.png").stat().st_size > 1000
    curves = json.loads((folder / "car" / "curves.json").read_text())
    steps = [s for s, _ in curves["runs"][0]["curve"]]
    assert steps[0] < 1024 <= steps[1] and steps[-1] >= 2048

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("carverify-train")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {f"train {SUITE} car", f"train {SUITE} sparse", "car seed 0", "sparse seed 0"}
    parent, child = runs[f"train {SUITE} car"], runs["car seed 0"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.data.params["reward"] == "car" and parent.data.params["ppo.n_steps"] == "128"
    assert parent.data.params["program_sha256"] == sha256_of((PROGRAMS / "tile_probes.py").read_text())
    history = client.get_metric_history(child.info.run_id, "eval.success_rate")
    assert [m.step for m in history][:2] == steps[:2]
    assert {"eval.subtask.has_key", "train.steps_per_second", "wall_seconds"} <= set(child.data.metrics)
    assert "eval.success_rate.mean" in parent.data.metrics
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"success_rate.png", "curves.json", "program"} <= artifacts
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "program")} == {
        "program/program.py", "program/report.json"}
    # Trained models travel with their runs; every parent's plot is the final one, CaR and sparse together.
    for name in ("car seed 0", "sparse seed 0"):
        assert {a.path for a in client.list_artifacts(runs[name].info.run_id, "model")} == {"model/model-seed0.zip"}
    final = (folder / "success_rate.png").read_bytes()
    for name in (f"train {SUITE} car", f"train {SUITE} sparse"):
        logged = Path(client.download_artifacts(runs[name].info.run_id, "success_rate.png", str(tmp_path / name)))
        assert logged.read_bytes() == final, name
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on the runs table


def test_car_refuses_a_program_whose_report_rejects_it(tmp_path, capsys):
    source = (PROGRAMS / "always_true.py").read_text()
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"verdict": "rejected", "program": {"sha256": sha256_of(source)}, "suite": SUITE}))
    code = main(["train", "--suite", SUITE, "--reward", "car", "--program", str(PROGRAMS / "always_true.py"),
                 "--report", str(report), "--steps", "64", "--no-track", "--out", str(tmp_path)])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == ("carverify: error: refusing a program its audit did not accept (verdict 'rejected'): "
                   "fix it and run `carverify audit` until it is accepted\n")


def test_report_without_program_is_a_usage_error(tmp_path, capsys):
    code = main(["train", "--suite", SUITE, "--report", str(tmp_path / "r.json"), "--no-track"])
    assert code == EXIT_USAGE
    assert "--report needs --program" in capsys.readouterr().err


def test_a_crashed_run_is_marked_failed_not_left_running(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient
    from stable_baselines3 import PPO

    from carverify import train

    def explode(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(PPO, "learn", explode)
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    with pytest.raises(RuntimeError, match="boom"):
        train.main(train.Args(suite=SUITE, rewards=("sparse",), steps=64, seeds=(0,), eval_episodes=1,
                              out=str(tmp_path / "runs"), tracking_uri=uri, progress=False))
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("carverify-train").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FAILED", "FAILED"]


def test_the_audit_commands_document_is_accepted_as_a_report(tmp_path, capsys):
    """`carverify audit --json` writes {reports: [...]}: train reads its one report, and refuses several."""
    source = (PROGRAMS / "always_true.py").read_text()
    one = {"verdict": "rejected", "program": {"sha256": sha256_of(source)}, "suite": SUITE}
    for reports, needle in (([one], "refusing a program its audit did not accept (verdict 'rejected')"),
                            ([one, one], "holds 2 programs' reports: audit the one program")):
        document = tmp_path / "audit.json"
        document.write_text(json.dumps({"schema_version": 2, "reports": reports}))
        code = main(["train", "--suite", SUITE, "--reward", "car", "--program", str(PROGRAMS / "always_true.py"),
                     "--report", str(document), "--steps", "64", "--no-track", "--out", str(tmp_path)])
        assert code == EXIT_USAGE
        assert needle in capsys.readouterr().err
