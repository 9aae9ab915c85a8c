"""MLflow for generate: a parent run, a nested run per round with prompt, images, response, program, report."""
import pytest

from carverify.cli import main
from carverify.generate.prompts import PROMPT_VERSION
from conftest import FAST

SUITE = "minigrid-doorkey-5x5"


@pytest.mark.slow
def test_parent_and_nested_runs(fake_openai, authored, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    decompose, _, good = authored(SUITE)
    fake_openai.script = [{"reply": decompose}, {"reply": "no code"}, {"reply": good}]
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    code = main(["generate", "--suite", SUITE, "--out", str(tmp_path / "p.py"), "--provider", "openai",
                 "--base-url", fake_openai.url, "--model", "vlm", "--tracking-uri", uri, "--stages", *FAST])
    assert code == 0, capsys.readouterr().err

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("carverify-generate")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert set(runs) == {"generate minigrid-doorkey-5x5", "round 1", "round 2"}
    parent = runs["generate minigrid-doorkey-5x5"]
    assert parent.info.status == "FINISHED" and parent.data.tags["verdict"] == "accepted"
    assert parent.data.params["model"] == "vlm" and parent.data.params["prompt_version"] == PROMPT_VERSION
    assert parent.data.metrics["accepted"] == 1.0 and parent.data.metrics["best_round"] == 2.0
    assert parent.data.metrics["tokens.total_tokens"] == 121 + 122 + 123

    def files(run_id, path=None):
        out = []
        for item in client.list_artifacts(run_id, path):
            out += files(run_id, item.path) if item.is_dir else [item.path]
        return sorted(out)

    assert files(parent.info.run_id) == ["best/program.py", "best/report.json", "decompose/decomposition.json",
                                         "decompose/images/goal.png", "decompose/images/initial.png",
                                         "decompose/prompt.txt", "decompose/response.txt"]
    for name in ("round 1", "round 2"):
        run = runs[name]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.metrics["tokens.total_tokens"] > 0 and "latency_seconds" in run.data.metrics
    assert files(runs["round 1"].info.run_id) == ["feedback.txt", "findings.json", "images/goal.png",
                                                  "images/initial.png", "prompt.txt", "response.txt"]
    assert files(runs["round 2"].info.run_id) == ["images/goal.png", "images/initial.png", "program.py",
                                                  "prompt.txt", "report.json", "response.txt"]
    assert runs["round 2"].data.tags["verdict"] == "accepted"
    prompt = client.download_artifacts(runs["round 2"].info.run_id, "prompt.txt", str(tmp_path))
    text = open(prompt).read()
    assert "===== user =====" in text and "[image sha256 " in text and "CV701" in text
