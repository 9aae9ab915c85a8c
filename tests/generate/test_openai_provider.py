"""The openai provider against a real HTTP server on 127.0.0.1, through the official client."""
import time

import pytest

from carverify.errors import UsageError
from carverify.generate.providers import OpenAIProvider, ProviderError
from carverify.generate.transcripts import request_hash

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "hello"}]


def provider(server, **kw):
    return OpenAIProvider(base_url=server.url, api_key="test-key", **{"timeout": 2.0, "max_retries": 2, **kw})


def test_normal_exchange_records_usage_latency_and_hash(fake_openai):
    fake_openai.script = [{"reply": "hi there"}]
    got = provider(fake_openai).complete(MESSAGES, model="vlm-1")
    assert got.text == "hi there" and got.finish_reason == "stop" and got.model == "vlm-1"
    assert got.usage == {"prompt_tokens": 101, "completion_tokens": 20, "total_tokens": 121}
    assert got.request_hash == request_hash(MESSAGES) and got.latency_seconds > 0
    sent = fake_openai.requests[0]
    assert sent["model"] == "vlm-1" and sent["messages"] == MESSAGES


def test_429_is_retried_after_retry_after(fake_openai):
    fake_openai.script = [{"status": 429, "headers": {"Retry-After": "0.4"}, "error": "slow down"},
                          {"reply": "ok"}]
    assert provider(fake_openai).complete(MESSAGES, model="m").text == "ok"
    assert len(fake_openai.requests) == 2
    assert fake_openai.times[1] - fake_openai.times[0] >= 0.35


def test_a_retry_and_a_long_wait_each_get_a_status_line(fake_openai, capfd):
    """generate used to wait silently on the model and on 429 retries."""
    fake_openai.script = [{"status": 429, "headers": {"Retry-After": "0.2"}, "error": "slow down"},
                          {"sleep": 2.6, "reply": "ok"}]
    assert provider(fake_openai, timeout=10.0).complete(MESSAGES, model="m").text == "ok"
    err = capfd.readouterr().err.splitlines()
    assert err[0] == f"carverify: m: HTTP 429; retrying in 0.2 s (retry 1 of 2)"
    assert err[1] == f"carverify: waiting on m at {fake_openai.url}…"
    assert err[2].startswith(f"carverify: waiting on m at {fake_openai.url}: done in ")


def test_5xx_retries_are_bounded_then_a_provider_error(fake_openai):
    fake_openai.script = [{"status": 503, "headers": {"Retry-After": "0.05"}, "error": "overloaded"}] * 5
    with pytest.raises(ProviderError) as info:
        provider(fake_openai, max_retries=1).complete(MESSAGES, model="m")
    assert len(fake_openai.requests) == 2
    assert str(info.value) == f"the model endpoint {fake_openai.url} failed with HTTP 503 after 2 attempts: overloaded"


def test_timeout_is_a_provider_error_within_the_bound(fake_openai):
    # The reply comes after 12 s; a client that honours its 1 s timeout gives up long before.
    # The bound is a backstop 10x the timeout (a loaded machine stretched 1 s to 3.4 s).
    fake_openai.script = [{"sleep": 12, "reply": "too late"}]
    start = time.monotonic()
    with pytest.raises(ProviderError) as info:
        provider(fake_openai, timeout=1.0, max_retries=0).complete(MESSAGES, model="m")
    assert time.monotonic() - start < 10
    assert str(info.value) == f"the model endpoint {fake_openai.url} did not answer within 1 s (1 attempt)"


def test_refused_key_and_unknown_model_are_usage_errors(fake_openai):
    fake_openai.script = [{"status": 401, "error": "bad key"}, {"status": 404, "error": "no such model"}]
    with pytest.raises(UsageError, match=r"refused the API key \(HTTP 401\): bad key — check OPENAI_API_KEY"):
        provider(fake_openai).complete(MESSAGES, model="m")
    with pytest.raises(UsageError, match=r"has no model 'm' or no chat completions route \(HTTP 404\)"):
        provider(fake_openai).complete(MESSAGES, model="m")


def test_unreachable_endpoint(fake_openai):
    url = fake_openai.url
    fake_openai.server.shutdown()
    fake_openai.server.server_close()
    with pytest.raises(ProviderError, match="cannot reach the model endpoint"):
        OpenAIProvider(base_url=url, api_key="k", timeout=1.0, max_retries=0).complete(MESSAGES, model="m")
    fake_openai.server.shutdown = lambda: None  # already down for the fixture's teardown


def test_missing_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UsageError, match="OPENAI_API_KEY is not set"):
        OpenAIProvider(base_url="http://127.0.0.1:9/v1")


def test_a_request_over_the_context_is_named_as_such(fake_openai):
    # llama.cpp's server's own words (bench-generate, round 5 of the 0.5B model, prompts v3).
    said = ("This model's maximum context length is 8192 tokens. However, you requested 9624 tokens "
            "(8600 in the messages, 1024 in the completion). Please reduce the length of the messages or completion.")
    fake_openai.script = [{"status": 400, "error": said}, {"status": 400, "error": "bad field"}]
    with pytest.raises(ProviderError, match=r"the request does not fit the model's context \(HTTP 400\): This "
                                            r"model's maximum context length is 8192 tokens.* — use fewer --rounds"):
        provider(fake_openai).complete(MESSAGES, model="m")
    with pytest.raises(UsageError, match=r"rejected the request \(HTTP 400\): bad field"):
        provider(fake_openai).complete(MESSAGES, model="m")
