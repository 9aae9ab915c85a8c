"""MLflow tracking: the embedded SQLite store, a real `mlflow server`, and an unreachable one."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from carverify import __version__
from carverify.errors import InternalError, UsageError
from carverify.result import AuditReport, Finding, StageResult
from carverify.tracking import default_tracking_uri, log_audit

SOURCE = 'import numpy as np\n\nSUBTASKS = ("at_goal",)\n\ndef at_goal(obs):\n    return bool(obs.any())\n'


@pytest.fixture(autouse=True)
def no_progress_bars(monkeypatch):
    # Only our read-backs download artifacts; their progress bars would clutter the test log.
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture
def report(tmp_path):
    counterexample = tmp_path / "counterexample.npy"
    counterexample.write_bytes(b"\x93NUMPY fake")
    return AuditReport(
        program_path="program.py", program_sha256="ab" * 32, suite="minigrid-doorkey-5x5",
        stages=[
            StageResult("parse", "passed", metrics={"bytes": 96}, seconds=0.002),
            StageResult("properties", "failed", [Finding("CV401", "raised ZeroDivisionError")],
                        metrics={"examples": 200, "precision": float("nan"), "note": "n/a"},
                        seconds=1.5),
            StageResult("compile", "skipped"),
        ],
        limits={"timeout_s": 10, "memory_mb": 512}, seconds=1.6,
        artifacts={"counterexamples": str(counterexample)},
    )


def _read_back(uri, run_id):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    names = {a.path for a in client.list_artifacts(run_id)}
    names |= {a.path for a in client.list_artifacts(run_id, "counterexamples")}
    return client, run, names


def _check_run(client, run, names, report):
    assert run.info.status == "FINISHED"
    assert run.data.params == {"suite": "minigrid-doorkey-5x5", "program_sha256": "ab" * 32,
                               "limit.timeout_s": "10", "limit.memory_mb": "512"}
    assert run.data.metrics == {
        "stage.parse.seconds": 0.002, "stage.parse.passed": 1.0, "parse.bytes": 96.0,
        "stage.properties.seconds": 1.5, "stage.properties.passed": 0.0,
        "properties.examples": 200.0,
        "stage.compile.seconds": 0.0, "stage.compile.passed": 0.0, "seconds": 1.6}
    assert run.data.tags["verdict"] == "rejected"
    assert run.data.tags["carverify.version"] == __version__
    # Tags a person can filter the runs table by, and the text report as the run's description.
    assert run.data.tags["carverify.codes"] == "CV401" and run.data.tags["finding.CV401"] == "1"
    description = run.data.tags["mlflow.note.content"]
    assert "CV401 raised ZeroDivisionError" in description and "REJECTED  program.py" in description
    # The run spans the audit's own 1.6 s, not the few milliseconds of logging it.
    assert run.info.end_time - run.info.start_time == 1600
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert names == {"program.py", "report.json", "counterexamples",
                     "counterexamples/counterexample.npy"}
    downloaded = Path(client.download_artifacts(run.info.run_id, "report.json"))
    assert json.loads(downloaded.read_text(encoding="utf-8"))["verdict"] == "rejected"
    assert Path(client.download_artifacts(run.info.run_id, "program.py")).read_text() == SOURCE


def test_importing_tracking_and_reports_leaves_mlflow_unloaded():
    # `carverify audit --help` must stay instant; mlflow costs seconds to import.
    code = "import sys, carverify.tracking, carverify.report; print('mlflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], check=True)
    assert done.stdout.strip() == "False"


def test_default_store_is_sqlite_in_the_cache_folder_not_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri() == f"sqlite:///{(tmp_path / 'cache').resolve()}/mlruns.db"
    assert (tmp_path / "cache").is_dir()  # sqlite creates the file, not its folder
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert default_tracking_uri() == "http://mlflow.example:5000"


def test_embedded_sqlite_store(report, tmp_path, monkeypatch, capfd):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    run_id = log_audit(report, SOURCE, run_name="audit-1")
    # The first use of a new SQLite store migrates its tables; none of that may reach the user.
    assert capfd.readouterr() == ("", "")
    assert (tmp_path / "cache" / "mlruns.db").is_file() and list(work.iterdir()) == []
    store = tmp_path / "cache"
    client, run, names = _read_back(default_tracking_uri(), run_id)
    _check_run(client, run, names, report)
    assert run.info.run_name == "audit-1"
    assert client.get_experiment(run.info.experiment_id).name == "carverify-audit"
    assert (store / "mlruns" / run_id / "artifacts" / "program.py").read_text() == SOURCE

    raw = log_audit(report, b"x = 1  # caf\xe9\n".decode("utf-8", "surrogateescape"))
    assert Path(client.download_artifacts(raw, "program.py")).read_bytes() == b"x = 1  # caf\xe9\n"

    child = log_audit(report, SOURCE, parent_run_id=run_id)
    child_run = client.get_run(child)
    assert child_run.data.tags["mlflow.parentRunId"] == run_id
    assert child_run.info.experiment_id == run.info.experiment_id
    assert child_run.info.run_name == "program.py"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_a_quick_internal_error(report):
    port = _free_port()  # closed again, so nothing listens there
    started = time.monotonic()
    with pytest.raises(InternalError) as raised:
        log_audit(report, SOURCE, tracking_uri=f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 15
    assert str(raised.value) == (
        f"cannot reach MLflow tracking at http://127.0.0.1:{port}: Connection refused")
    assert "\n" not in str(raised.value)


def test_unsupported_uri_is_a_usage_error(report):
    with pytest.raises(UsageError, match=r"^cannot use MLflow tracking URI ftp://host/x: "):
        log_audit(report, SOURCE, tracking_uri="ftp://host/x")


def test_password_never_appears_in_the_error(report):
    port = _free_port()
    with pytest.raises(InternalError) as raised:
        log_audit(report, SOURCE, tracking_uri=f"http://ci:hunter2@127.0.0.1:{port}")
    assert "hunter2" not in str(raised.value) and "ci:***@" in str(raised.value)


def _start_mlflow_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "server-artifacts")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        start_new_session=True)  # its own process group, so uvicorn workers die with it
    server.log = log
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() - started > 300:  # minutes on a loaded 2-core machine
            _stop_mlflow_server(server)
            pytest.fail("mlflow server did not start:\n" + (tmp_path / "server.log").read_text())
        time.sleep(0.2)
    print(f"mlflow server healthy after {time.monotonic() - started:.1f} s")
    return url, server


def _stop_mlflow_server(server):
    # The group id is the server's pid (new session); workers may outlive their parent.
    _signal_group(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        _signal_group(server.pid, signal.SIGKILL)
        server.wait()
    server.log.close()


@pytest.fixture
def mlflow_server(tmp_path):
    url, server = _start_mlflow_server(tmp_path)
    try:
        yield url
    finally:
        _stop_mlflow_server(server)


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


@pytest.mark.slow
def test_real_mlflow_server(report, mlflow_server, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    run_id = log_audit(report, SOURCE, tracking_uri=mlflow_server)
    out, err = capfd.readouterr()
    assert "View run" not in out and err == ""
    client, run, names = _read_back(mlflow_server, run_id)
    _check_run(client, run, names, report)
    assert not (tmp_path / "mlruns.db").exists()  # nothing leaked into a local store
    stored = list((tmp_path / "server-artifacts").rglob("report.json"))
    assert len(stored) == 1


@pytest.mark.slow
def test_a_server_stopped_mid_run_costs_one_warning_not_the_verdict(tmp_path):
    """The gate's contract: a real server dies while the audit runs; the audit still exits with its
    verdict, writes every report and prints exactly one warning."""
    root = Path(__file__).resolve().parents[1]
    bad, good = root / "examples" / "imports_os.py", root / "examples" / "good_vectorized.py"
    url, server = _start_mlflow_server(tmp_path)
    reports = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit")}
    try:
        audit = subprocess.Popen(
            [sys.executable, "-m", "carverify.cli", "audit", str(bad), str(good), "--suite", "minigrid-doorkey-5x5",
             "--stages", "parse", "policy", "restricted", "--no-cache", "--tracking-uri", url,
             *(arg for fmt, path in reports.items() for arg in (f"--{fmt}", str(path)))],
            stdout=subprocess.PIPE, stderr=open(tmp_path / "stderr.txt", "w"), text=True, cwd=tmp_path)
        first = audit.stdout.readline()  # the rejected program is done; the good one's sandbox is still running
        assert first.startswith("REJECTED  "), first
    finally:
        _stop_mlflow_server(server)
    rest = audit.stdout.read()  # the same buffered reader as readline: nothing it already holds is lost
    audit.wait(timeout=300)
    err = (tmp_path / "stderr.txt").read_text()
    assert audit.returncode == 1, first + rest + err
    lines = [line for line in rest.splitlines() if not line.startswith("    ")]  # the rejected one's findings
    assert lines[0].startswith("ACCEPTED  ") and "CV204 import of 'os' is not allowed" in rest
    assert lines[-1].startswith("2 programs: 1 accepted, 1 rejected, 0 errors")
    document = json.loads(reports["json"].read_text())
    assert [r["verdict"] for r in document["reports"]] == ["rejected", "accepted"]
    assert json.loads(reports["sarif"].read_text())["runs"][0]["results"][0]["ruleId"] == "CV204"
    assert reports["junit"].read_text().count("<testsuite ") == 2
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == [f"carverify: warning: MLflow tracking failed: cannot reach MLflow tracking at {url}: "
                        "Connection refused (the verdict and reports are unaffected)"], err
    assert "Traceback" not in err


def test_a_counterexample_frame_is_also_logged_as_an_upscaled_png(report, tmp_path, monkeypatch):
    import io

    import numpy as np
    from PIL import Image

    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    frame = np.zeros((40, 40, 3), dtype=np.uint8)
    frame[8:16, 24:32] = (255, 0, 0)
    np.save(tmp_path / "frame.npy", frame)
    report.artifacts = {"counterexamples/at_goal-CV401": str(tmp_path / "frame.npy")}
    run_id = log_audit(report, SOURCE, finished=1_800_000_000.0)
    client, run, _ = _read_back(default_tracking_uri(), run_id)
    names = {a.path for a in client.list_artifacts(run_id, "counterexamples/at_goal-CV401")}
    assert names == {"counterexamples/at_goal-CV401/frame.npy", "counterexamples/at_goal-CV401/frame.png"}
    png = Image.open(io.BytesIO(Path(client.download_artifacts(run_id, "counterexamples/at_goal-CV401/frame.png"))
                                .read_bytes()))
    assert png.size == (320, 320)  # 8x: each pixel a block a person can see
    assert np.array_equal(np.asarray(png)[::8, ::8], frame)
    assert (run.info.start_time, run.info.end_time) == (1_800_000_000_000 - 1600, 1_800_000_000_000)
