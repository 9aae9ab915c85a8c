"""`carverify generate` end to end: a fake OpenAI-compatible server, replay, recording, exit codes."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carverify.cli import main
from carverify.generate.prompts import PROMPT_VERSION
from conftest import FAST, ROOT

SUITE = "minigrid-doorkey-5x5"


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def generate(capsys, *args):
    code = main(["generate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def openai_args(server, out, *extra, stages=tuple(FAST)):
    return ["--suite", SUITE, "--out", out, "--provider", "openai", "--base-url", server.url, "--model", "vlm",
            "--timeout", "2", "--retries", "1", "--no-track", *extra, "--stages", *stages]


def test_normal_exchange_writes_program_and_report(fake_openai, key, authored, tmp_path, capsys):
    decompose, _, good = authored(SUITE)
    fake_openai.script = [{"reply": decompose}, {"reply": good}]
    out = tmp_path / "p.py"
    code, stdout, err = generate(capsys, *openai_args(fake_openai, out))
    assert code == 0, err
    assert err == ["decompose: 3 sub-tasks: has_key, door_open, on_goal", "round 1/3: ACCEPTED"]
    assert stdout.startswith(f"ACCEPTED  {out}  (round 1 of 1, suite {SUITE}; report {out}.report.json)")
    assert "SUBTASKS = (\"has_key\", \"door_open\", \"on_goal\")" in out.read_text()
    assert json.loads(Path(f"{out}.report.json").read_text())["verdict"] == "accepted"
    first, second = fake_openai.requests
    images = [p for p in first["messages"][1]["content"] if p["type"] == "image_url"]
    assert len(images) == 2 and all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in images)
    assert "A top-down view of a small 5x5 MiniGrid world" in first["messages"][1]["content"][0]["text"]
    program_prompt = second["messages"][-1]["content"]
    assert "shape (40, 40, 3)" in program_prompt and "1. `has_key`" in program_prompt
    assert "blended 30% towards white" in program_prompt
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]


def test_no_code_then_a_program(fake_openai, key, authored, tmp_path, capsys):
    decompose, _, good = authored(SUITE)
    fake_openai.script = [{"reply": decompose}, {"reply": "I would check the key colour first."}, {"reply": good}]
    code, _, err = generate(capsys, *openai_args(fake_openai, tmp_path / "p.py"))
    assert code == 0
    assert err[1].startswith("round 1/3: NO PROGRAM — program.py CV701 no program in the reply: no code block")
    assert err[2] == "round 2/3: ACCEPTED"
    refine = fake_openai.requests[2]["messages"]
    assert refine[-2] == {"role": "assistant", "content": "I would check the key colour first."}
    assert "Your last reply gave the audit no program to run." in refine[-1]["content"]


def test_truncated_reply_then_a_program(fake_openai, key, authored, tmp_path, capsys):
    decompose, _, good = authored(SUITE)
    cut = good[: good.index("def door_open") + 30]
    fake_openai.script = [{"reply": decompose}, {"reply": cut, "finish_reason": "length"}, {"reply": good}]
    code, _, err = generate(capsys, *openai_args(fake_openai, tmp_path / "p.py"))
    assert code == 0
    assert "CV702 the reply was cut off before the program ended" in err[1]
    assert "CV702" in fake_openai.requests[2]["messages"][-1]["content"]


def test_never_a_program_exits_1_with_one_line(fake_openai, key, authored, tmp_path, capsys):
    fake_openai.script = [{"reply": authored(SUITE)[0]}, {"reply": "no"}, {"reply": ""}]
    code, _, err = generate(capsys, *openai_args(fake_openai, tmp_path / "p.py", "--rounds", "2"))
    assert code == 1
    assert err[-1] == "carverify: no program to write after 2 round(s): CV701 no program in the reply: the reply is empty"
    assert not (tmp_path / "p.py").exists()


def test_rate_limit_then_success(fake_openai, key, authored, tmp_path, capsys):
    decompose, _, good = authored(SUITE)
    fake_openai.script = [{"status": 429, "headers": {"Retry-After": "0.2"}}, {"reply": decompose},
                          {"status": 500, "headers": {"Retry-After": "0.1"}}, {"reply": good}]
    code, _, err = generate(capsys, *openai_args(fake_openai, tmp_path / "p.py"))
    assert code == 0 and err[-1] == "round 1/3: ACCEPTED" and len(fake_openai.requests) == 4


def test_timeout_exits_3_with_one_line_no_traceback(fake_openai, tmp_path):
    fake_openai.script = [{"sleep": 5, "reply": "late"}]
    env = {**os.environ, "OPENAI_API_KEY": "test-key"}
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "carverify.cli", "generate", "--suite", SUITE, "--out",
                           str(tmp_path / "p.py"), "--base-url", fake_openai.url, "--timeout", "1", "--retries",
                           "0", "--no-track"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert done.returncode == 3
    assert done.stderr.strip() == (f"carverify: provider error: the model endpoint {fake_openai.url} did not "
                                   "answer within 1 s (1 attempt)")
    assert time.monotonic() - start < 20


def test_record_then_replay_with_another_model(fake_openai, key, authored, tmp_path, capsys):
    decompose, bad, good = authored(SUITE)
    fake_openai.script = [{"reply": decompose}, {"reply": bad}, {"reply": good}]
    folder = tmp_path / "transcripts"
    stages = [*FAST, "properties", "trajectories"]
    code, _, err = generate(capsys, *openai_args(fake_openai, tmp_path / "a.py", "--record", "--transcripts", folder,
                                                 stages=stages))
    assert code == 0 and err[1].startswith("round 1/3: REJECTED — program.py:9:1 CV502")
    (path,) = folder.glob("*.json")
    saved = json.loads(path.read_text())
    assert saved["authored"] is False and saved["model"] == "vlm"
    assert [(e["step"], e["round"]) for e in saved["exchanges"]] == [("decompose", 0), ("program", 1), ("refine", 2)]
    assert saved["exchanges"][1]["response"]["usage"]["total_tokens"] == 122
    replay = ["--suite", SUITE, "--out", tmp_path / "b.py", "--provider", "replay", "--model", "other",
              "--transcripts", folder, "--no-track", "--stages", *stages]
    code, _, err2 = generate(capsys, *replay)
    assert code == 0 and err2 == err
    assert (tmp_path / "a.py").read_text() == (tmp_path / "b.py").read_text()


def test_without_a_key_replay_is_the_default_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = generate(capsys, "--suite", SUITE, "--out", tmp_path / "p.py", "--no-track", "--stages", *FAST,
                            "properties", "trajectories")
    assert code == 0
    assert err[0] == (f"carverify: OPENAI_API_KEY is not set, replaying recorded exchanges for {SUITE} "
                      "(--provider openai or --provider local to ask a model)")
    assert err[-2].startswith("round 1/3: REJECTED — program.py:9:1 CV502 has_key: already true at reset")
    assert err[-1] == "round 2/3: ACCEPTED"


def test_replay_miss_is_a_usage_error_naming_the_request(tmp_path, capsys):
    recorded = json.loads((ROOT / "suites" / SUITE / "transcripts" / f"authored-{PROMPT_VERSION}.json").read_text())
    recorded["exchanges"] = recorded["exchanges"][:2]  # decompose and round 1 only
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "partial.json").write_text(json.dumps(recorded))
    code, _, err = generate(capsys, "--suite", SUITE, "--out", tmp_path / "p.py", "--provider", "replay",
                            "--transcripts", folder, "--no-track", "--stages", *FAST, "properties", "trajectories")
    assert code == 2
    assert err[-1].startswith("carverify: error: replay: no recorded reply for step refine, round 2: request sha256 ")
    assert err[-1].endswith(f"— record it with: carverify generate --suite {SUITE} --provider openai --record")
    code, _, err = generate(capsys, "--suite", SUITE, "--out", tmp_path / "p.py", "--provider", "replay",
                            "--transcripts", tmp_path / "empty", "--no-track")
    assert code == 2 and len(err) == 1 and "no recorded reply for step decompose: no recorded exchanges in" in err[0]


@pytest.mark.parametrize("args,needle", [
    (["--record", "--provider", "replay"], "--record saves what a model answers: use it with --provider openai"),
    (["--stages", "nonsense"], "unknown stage 'nonsense'"),
    (["--provider", "openai", "--retries", "-1"], "retries must be 0 or more, got -1"),
])
def test_usage_errors_exit_2_in_one_line(args, needle, key, tmp_path, capsys):
    code, _, err = generate(capsys, "--suite", SUITE, "--out", tmp_path / "p.py", "--no-track", *args)
    assert code == 2 and len(err) == 1 and needle in err[0]


def test_bad_rounds_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["generate", "--suite", SUITE, "--out", str(tmp_path / "p.py"), "--rounds", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and "argument --rounds: must be at least 1, got 0" in err[0]


def test_out_is_a_directory(tmp_path, capsys):
    code, _, err = generate(capsys, "--suite", SUITE, "--out", tmp_path, "--provider", "replay", "--no-track")
    assert code == 2 and err == [f"carverify: error: cannot write the program to {tmp_path}: it is a directory"]


@pytest.mark.long
@pytest.mark.slow
def test_offline_doorkey_8x8_ends_accepted_after_real_feedback(monkeypatch, tmp_path, capsys):
    """The acceptance run: replay, every audit stage, then `carverify audit` accepts the result."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "p.py"
    code, _, err = generate(capsys, "--suite", "minigrid-doorkey-8x8", "--out", out, "--no-track")
    assert code == 0, err
    assert err[2].startswith("round 1/3: REJECTED — program.py:41:1 CV301 reach_goal(obs) raised IndexError")
    assert err[3].startswith("round 2/3: REJECTED — program.py:35:1 CV501 reach_goal: completed in 0/20")
    assert err[4] == "round 3/3: ACCEPTED"
    report = json.loads(Path(f"{out}.report.json").read_text())
    assert [s["stage"] for s in report["stages"]] == ["parse", "policy", "restricted", "properties",
                                                      "trajectories", "compile", "coverage"]
    assert main(["audit", str(out), "--suite", "minigrid-doorkey-8x8", "--no-track", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("ACCEPTED")
