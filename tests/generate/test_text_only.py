"""A model that cannot take images: llama.cpp answers content lists with HTTP 500.

The stub is a real HTTP server on 127.0.0.1 spoken to by the real `openai` client; it refuses
exactly what llama.cpp refuses.  Replies are authored (tools/authored), not model output.
"""
import json

import pytest

from carverify.cli import main
from carverify.generate import OpenAIProvider, ScriptedProvider, generate
from conftest import FAST

SUITE = "minigrid-doorkey-5x5"


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")


def test_generate_works_against_a_server_that_refuses_images(fake_openai, key, authored, tmp_path, capsys):
    decompose, _, good = authored(SUITE)
    fake_openai.refuse_lists = True
    fake_openai.script = [{"reply": decompose}, {"reply": good}]
    out = tmp_path / "p.py"
    code = main(["generate", "--suite", SUITE, "--out", str(out), "--provider", "openai", "--base-url",
                 fake_openai.url, "--model", "local-coder", "--timeout", "5", "--retries", "2", "--no-track",
                 "--stages", *FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 0, err
    assert err[0] == (f"decompose: the model endpoint {fake_openai.url} refused content lists with images "
                      "(HTTP 500: can only concatenate str (not \"list\") to str); sending the frames as text")
    assert err[-1] == "round 1/3: ACCEPTED"
    # One refused request (not retried), then only plain-string contents.
    refused, *rest = fake_openai.requests
    assert isinstance(refused["messages"][1]["content"], list) and len(rest) == 2
    for request in rest:
        assert all(isinstance(m["content"], str) for m in request["messages"])
    text = rest[0]["messages"][1]["content"]
    assert "You cannot see the observations" in text and "Legend: W wall" in text
    assert "yellow key at row" in text and "standing on the green goal" in text
    assert "image_url" not in json.dumps(rest)


def test_a_provider_declared_text_only_never_sends_images(fake_openai, authored):
    decompose, _, good = authored(SUITE)
    fake_openai.script = [{"reply": decompose}, {"reply": good}]
    provider = OpenAIProvider(base_url=fake_openai.url, api_key="k", timeout=5, max_retries=0, images=False)
    gen = generate(SUITE, provider, model="m", stages=FAST)
    assert gen.accepted and not gen.images and len(fake_openai.requests) == 2
    assert isinstance(fake_openai.requests[0]["messages"][1]["content"], str)


def test_a_vision_model_keeps_its_images(fake_openai, authored):
    decompose, _, good = authored(SUITE)
    fake_openai.script = [{"reply": decompose}, {"reply": good}]
    provider = OpenAIProvider(base_url=fake_openai.url, api_key="k", timeout=5, max_retries=0)
    gen = generate(SUITE, provider, model="m", stages=FAST)
    assert gen.accepted and gen.images and provider.sees_images is True


def test_replay_of_text_only_recordings(tmp_path, authored):
    """Recordings of a text-only model replay: the image request misses and is retried as text."""
    from carverify.generate.loop import TranscriptRecorder
    from carverify.generate.providers import ReplayProvider
    from carverify.generate.transcripts import TranscriptWriter

    decompose, _, good = authored(SUITE)
    writer = TranscriptWriter(tmp_path / "t.json", suite=SUITE, provider="local", model="m", prompt_version="v1")
    scripted = ScriptedProvider([decompose, good], sees_images=False)
    generate(SUITE, scripted, model="m", stages=FAST, listeners=[TranscriptRecorder(writer)])
    gen = generate(SUITE, ReplayProvider(tmp_path, suite_name=SUITE), model="m", stages=FAST)
    assert gen.accepted and not gen.images
