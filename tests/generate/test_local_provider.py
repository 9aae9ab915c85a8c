"""`--provider local`: the server's lifecycle and its failures, each one line and exit 3.

A stand-in process (stand_in_server.py) plays llama.cpp's server so these run without the
runtime or the weights; the last test starts the real server with the real 0.5B model when
both are installed (make test-long).  The replies the stand-in sends are authored.
"""
import hashlib
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from carverify.cli import main
from carverify.generate import local_model, local_server
from carverify.generate.local_server import LocalProvider, LocalServer
from carverify.generate.providers import ProviderError
from conftest import FAST

SUITE = "minigrid-doorkey-5x5"
STAND_IN = Path(__file__).with_name("stand_in_server.py")
WEIGHTS = b"GGUF stand-in weights\n" * 100


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A registered model 'tiny' whose file is installed in a fresh cache dir."""
    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CARVERIFY_MODELS", raising=False)
    spec = local_model.ModelSpec("tiny", "tiny stand-in", ("tiny-part1",), "1.0", len(WEIGHTS),
                                 hashlib.sha256(WEIGHTS).hexdigest())
    monkeypatch.setitem(local_model.MODELS, "tiny", spec)
    path = local_model.model_path(spec)
    path.parent.mkdir(parents=True)
    path.write_bytes(WEIGHTS)
    return path


def stand_in(monkeypatch, tmp_path, mode, replies=("ok",)):
    pid_file = tmp_path / "stand_in.pid"
    monkeypatch.setenv("STAND_IN_PID", str(pid_file))
    monkeypatch.setenv("REPLIES", json.dumps(list(replies)))
    monkeypatch.setattr(local_server, "llama_command",
                        lambda model_file, alias, port, threads, context: [sys.executable, str(STAND_IN), str(port), mode])
    return pid_file


def gone(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def run(capsys, *args):
    code = main(["generate", "--suite", SUITE, "--provider", "local", "--no-track", *map(str, args)])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_started_on_a_free_loopback_port_used_through_openai_and_always_stopped(tiny, tmp_path, monkeypatch):
    pid_file = stand_in(monkeypatch, tmp_path, "serve", ["hello"])
    with LocalServer(tiny, "tiny") as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        got = LocalProvider(server).complete([{"role": "user", "content": "hi"}], model="tiny")
        assert got.text == "hello" and not gone(pid_file)
    assert gone(pid_file)
    with pytest.raises(RuntimeError, match="boom"):
        with LocalServer(tiny, "tiny"):
            raise RuntimeError("boom")
    assert gone(pid_file)


def test_generate_local_end_to_end_records_labelled_transcripts(tiny, tmp_path, monkeypatch, authored, capsys):
    decompose, _, good = authored(SUITE)
    pid_file = stand_in(monkeypatch, tmp_path, "serve", [decompose, good])
    out = tmp_path / "p.py"
    code, err = run(capsys, "--model", "tiny", "--out", out, "--record", "--transcripts", tmp_path / "tr",
                    "--temperature", "0.2", "--seed", "3", "--stages", *FAST)
    assert code == 0, err
    assert err[-1] == "round 1/3: ACCEPTED" and gone(pid_file)
    data = json.loads(next((tmp_path / "tr").glob("*.json")).read_text())
    assert data["provider"] == "local" and data["model"] == "tiny" and data["authored"] is False
    assert data["quantisation"] == "Q4_K_M" and data["runtime"].startswith("llama-cpp-python")
    assert data["sampling"] == {"temperature": 0.2, "seed": 3} and data["images"] is False
    assert all(isinstance(m["content"], str) for ex in data["exchanges"] for m in ex["request"])


def _one_line_exit_3(code, err, expected):
    assert code == 3
    assert not any("Traceback" in line for line in err)
    assert err[-1] == "carverify: provider error: " + expected


def test_missing_model(tiny, tmp_path, capsys):
    tiny.unlink()
    code, err = run(capsys, "--model", "tiny", "--out", tmp_path / "p.py")
    _one_line_exit_3(code, err, f"local model tiny is not installed ({tiny} is missing) — run: carverify model tiny")


def test_bad_hash(tiny, tmp_path, capsys):
    tiny.write_bytes(WEIGHTS[:-1] + b"?")
    code, err = run(capsys, "--model", "tiny", "--out", tmp_path / "p.py")
    assert code == 3 and not any("Traceback" in line for line in err)
    assert err[-1].startswith(f"carverify: provider error: {tiny} has sha256 ")
    assert err[-1].endswith("not the pinned " + local_model.MODELS["tiny"].sha256[:16]
                            + "… of tiny — reinstall: carverify model tiny --force")
    assert main(["model", "tiny"]) == 3
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"carverify: model: {tiny} has sha256 ")


def test_port_in_use(tiny, tmp_path, monkeypatch, capsys):
    stand_in(monkeypatch, tmp_path, "serve")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, err = run(capsys, "--model", "tiny", "--out", tmp_path / "p.py", "--port", port)
    _one_line_exit_3(code, err, f"port {port} on 127.0.0.1 is in use — choose another with --port, "
                                "or leave it out for a free one")


def test_server_that_exits_before_it_is_ready(tiny, tmp_path, monkeypatch, capsys):
    stand_in(monkeypatch, tmp_path, "exit")
    code, err = run(capsys, "--model", "tiny", "--out", tmp_path / "p.py")
    _one_line_exit_3(code, err, "the local llama.cpp server exited before it was ready (exit code 7): "
                                "llama_model_load: error loading model: invalid magic")


def test_server_that_dies_during_generation(tiny, tmp_path, monkeypatch, capsys):
    stand_in(monkeypatch, tmp_path, "die")
    code, err = run(capsys, "--model", "tiny", "--out", tmp_path / "p.py")
    _one_line_exit_3(code, err, "the local llama.cpp server exited during generation (exit code 9): "
                                "GGML_ASSERT failed")


def test_server_that_never_answers_is_stopped(tiny, tmp_path, monkeypatch):
    pid_file = stand_in(monkeypatch, tmp_path, "mute")
    with pytest.raises(ProviderError, match=r"did not answer on 127.0.0.1:\d+ within 1 s"):
        LocalServer(tiny, "tiny", ready_timeout=1.0).start()
    assert gone(pid_file)


def test_runtime_missing(monkeypatch):
    monkeypatch.setattr(local_server, "runtime_missing", lambda: "llama_cpp")
    with pytest.raises(ProviderError, match=r"no module llama_cpp\) — pip install 'carverify\[local\]'"):
        local_server.llama_command(Path("m.gguf"), "m", 1, 2, 8192)


def test_model_command_prints_the_verified_path(tiny, capsys):
    assert main(["model", "tiny"]) == 0
    assert capsys.readouterr().out.strip() == str(tiny)


@pytest.mark.long
def test_the_real_server_with_the_real_model_answers(tmp_path):
    """llama.cpp with Qwen2.5-Coder-0.5B: needs carverify[local] and the model, installed by
    `carverify model` in CARVERIFY_MODELS (the tests' own cache dir is fresh); skipped otherwise."""
    spec = local_model.spec_of("qwen2.5-coder-0.5b")
    if local_server.runtime_missing() or not local_model.model_path(spec).is_file():
        pytest.skip("needs carverify[local] and CARVERIFY_MODELS=DIR carverify model qwen2.5-coder-0.5b")
    path = local_model.verified_path(spec)
    with LocalServer(path, spec.name) as server:
        process = server.process
        got = LocalProvider(server, sampling={"max_tokens": 8, "temperature": 0}).complete(
            [{"role": "user", "content": "Say OK."}], model=spec.name)
    assert got.text.strip() and got.usage["completion_tokens"] <= 8
    assert process.poll() is not None
