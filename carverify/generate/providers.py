"""Where model replies come from: an OpenAI-compatible endpoint, recorded transcripts, or a script.

    Provider.complete(messages, *, model) -> Completion

Errors: `ProviderError` (an InternalError, exit 3) when the endpoint fails after its
retries; `UsageError` (exit 2) when the request itself is refused (bad key, unknown
model) or a replayed request was never recorded (`ReplayMiss`).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol

from carverify.errors import InternalError, UsageError
from carverify.generate.transcripts import canonical_messages, first_difference, load_exchanges, request_hash

DEFAULT_MODEL = "gpt-4o"
DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class Completion:
    text: str
    usage: dict[str, int]
    latency_seconds: float
    request_hash: str
    finish_reason: str | None = None
    model: str | None = None


class Provider(Protocol):
    name: str
    # True: takes image content parts; False: text only (the frames are sent as text, every
    # content a string); None: unknown until the model answers (images first, then text).
    sees_images: bool | None

    def complete(self, messages: list[dict], *, model: str) -> Completion: ...


class ProviderError(InternalError):
    """The model endpoint failed (timeouts, rate limits, 5xx) after its bounded retries."""


class ImagesRefused(ProviderError):
    """The endpoint failed on a request with content lists (llama.cpp: HTTP 500): it takes text only."""


class ReplayMiss(UsageError):
    """A request that no transcript recorded."""

    def __init__(self, message: str, request_hash: str):
        super().__init__(message)
        self.request_hash = request_hash


class OpenAIProvider:
    """The official `openai` client against any OpenAI-compatible endpoint.

    The client retries 429, 408/409, 5xx, connection errors and timeouts itself, with
    exponential backoff that honours Retry-After (up to two minutes); `max_retries`
    bounds the attempts and `timeout` each one.
    """

    name = "openai"

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_RETRIES,
                 images: bool | None = None, sampling: dict | None = None):
        import os

        import openai

        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            raise UsageError("OPENAI_API_KEY is not set — export it, or use --provider replay")
        if timeout <= 0:
            raise UsageError(f"timeout must be positive, got {timeout:g}")
        if max_retries < 0:
            raise UsageError(f"retries must be 0 or more, got {max_retries}")
        self.timeout, self.max_retries = float(timeout), int(max_retries)
        self.sees_images = images
        # temperature, seed, max_tokens: sent with every request (not part of its hash)
        self.sampling = dict(sampling or {})
        self.client = openai.OpenAI(base_url=base_url, api_key=key, timeout=self.timeout,
                                    max_retries=self.max_retries)
        self.base_url = str(self.client.base_url).rstrip("/")

    def complete(self, messages: list[dict], *, model: str) -> Completion:
        import openai

        digest = request_hash(messages)
        where = f"the model endpoint {self.base_url}"
        from carverify.status import openai_retries, status

        start = time.perf_counter()
        client = self.client
        response = None
        # A model may think for a minute, and the client retries 429s and 5xx silently: say so.
        with status(f"waiting on {model} at {self.base_url}"), openai_retries(model):
            if self.sees_images is None and _has_lists(messages):
                response = self._probe(messages, model, where)
                client = self.client.with_options(max_retries=max(0, self.max_retries - 1))  # the probe: 1 attempt
            if response is None:
                try:
                    response = client.chat.completions.create(model=model, messages=messages, **self.sampling)
                except openai.OpenAIError as exc:
                    raise self._error(exc, where, model) from exc
            if _has_lists(messages):
                self.sees_images = True   # it took them (after a probe that hit a rate limit, say)
        return self._completion(response, where, digest, model, time.perf_counter() - start)

    def _probe(self, messages: list[dict], model: str, where: str):
        """The first request with content lists, sent once: a refusal means a text-only model.

        llama.cpp answers every content list with the same HTTP 500, so retrying it would
        only waste seconds; any other failure uses up one of the normal attempts (None: send
        again, if any attempt is left).
        """
        import openai

        try:
            response = self.client.with_options(max_retries=0).chat.completions.create(
                model=model, messages=messages, **self.sampling)
        except openai.APIStatusError as exc:
            if exc.status_code in (400, 422, 500):
                self.sees_images = False
                raise ImagesRefused(f"{where} refused content lists with images (HTTP {exc.status_code}: "
                                    f"{_said(exc)}); sending the frames as text") from exc
            if self.max_retries == 0:
                raise self._error(exc, where, model) from exc
            return None
        except openai.OpenAIError as exc:
            if self.max_retries == 0:
                raise self._error(exc, where, model) from exc
            return None
        self.sees_images = True
        return response

    def _error(self, exc, where: str, model: str) -> Exception:
        import openai

        attempts = self.max_retries + 1
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(f"{where} did not answer within {self.timeout:g} s ({_tries(attempts)})")
        if isinstance(exc, openai.APIConnectionError):
            return ProviderError(f"cannot reach {where}: {_cause(exc)} ({_tries(attempts)})")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return UsageError(f"{where} refused the API key (HTTP {exc.status_code}): {_said(exc)} "
                              "— check OPENAI_API_KEY")
        if isinstance(exc, openai.NotFoundError):
            return UsageError(f"{where} has no model '{model}' or no chat completions route "
                              f"(HTTP 404): {_said(exc)}")
        if isinstance(exc, openai.BadRequestError) and _CONTEXT_FULL.search(_said(exc)):
            return ProviderError(f"{where}: the request does not fit the model's context (HTTP 400): {_said(exc)} "
                                 "— use fewer --rounds or a model with a longer context")
        if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
            return UsageError(f"{where} rejected the request (HTTP {exc.status_code}): {_said(exc)} "
                              "— does the model accept images?")
        if isinstance(exc, openai.RateLimitError):
            return ProviderError(f"{where} is still rate limiting (HTTP 429) after {_tries(attempts)}: "
                                 f"{_said(exc)}")
        if isinstance(exc, openai.APIStatusError):
            return ProviderError(f"{where} failed with HTTP {exc.status_code} after {_tries(attempts)}: "
                                 f"{_said(exc)}")
        return ProviderError(f"{where} sent an unusable answer: {_first_line(str(exc))}")

    @staticmethod
    def _completion(response, where: str, digest: str, model: str, latency: float) -> Completion:
        if not getattr(response, "choices", None):
            raise ProviderError(f"{where} answered without any choices")
        choice = response.choices[0]
        message = choice.message
        text = (message.content if message is not None else None) or ""
        usage = {}
        if getattr(response, "usage", None) is not None:
            for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
                value = getattr(response.usage, key, None)
                if isinstance(value, int):
                    usage[key] = value
        return Completion(text=text, usage=usage, latency_seconds=latency, request_hash=digest,
                          finish_reason=choice.finish_reason, model=getattr(response, "model", None) or model)


# llama.cpp's server and OpenAI both say "maximum context length" when a request is too long.
_CONTEXT_FULL = re.compile(r"context length|context window|exceeds the context", re.IGNORECASE)


def _has_lists(messages: list[dict]) -> bool:
    return any(isinstance(m.get("content"), list) for m in messages)


def _tries(attempts: int) -> str:
    return "1 attempt" if attempts == 1 else f"{attempts} attempts"


def _first_line(text: str, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _said(exc) -> str:
    """The server's own error message, one line."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return _first_line(str(inner["message"]))
        if isinstance(inner, str):
            return _first_line(inner)
    return _first_line(getattr(exc, "message", None) or str(exc)) or type(exc).__name__


def _cause(exc: BaseException) -> str:
    seen = exc
    while seen.__cause__ is not None:
        seen = seen.__cause__
    return _first_line(str(seen)) or type(seen).__name__


class ReplayProvider:
    """Serves recorded exchanges from transcript files, keyed by the request hash."""

    name = "replay"

    def __init__(self, folder: Path, *, suite_name: str = "SUITE"):
        self.folder = Path(folder)
        self.suite_name = suite_name
        self.index: dict[str, tuple[Path, dict]] = {}
        for path, exchange in load_exchanges(self.folder):
            self.index.setdefault(exchange.get("request_hash", ""), (path, exchange))
        # Recordings of a text-only model hold no content lists: an image request that misses
        # is then refused as the model itself refused it, and the loop asks again as text.
        self.text_recordings = any(ex.get("step") == "decompose" and not _has_lists(ex.get("request", []))
                                   for _, ex in self.index.values())
        self.sees_images = None

    def complete(self, messages: list[dict], *, model: str) -> Completion:
        digest = request_hash(messages)
        found = self.index.get(digest)
        if found is None and self.text_recordings and _has_lists(messages):
            raise ImagesRefused(f"replay: no recording of this request with images, but {self.folder} "
                                "holds recordings of a text-only model; sending the frames as text")
        if found is None:
            raise ReplayMiss(self._miss_message(messages, digest), digest)
        _, exchange = found
        response = exchange.get("response", {})
        return Completion(text=response.get("text") or "", usage=dict(response.get("usage") or {}),
                          latency_seconds=0.0, request_hash=digest,
                          finish_reason=response.get("finish_reason"), model=response.get("model"))

    def _miss_message(self, messages: list[dict], digest: str) -> str:
        where = str(self.folder)
        if not self.index:
            text = f"no recorded exchanges in {where}"
        else:
            text = f"request sha256 {digest[:16]} is not recorded in {where}"
            closest = self._closest(messages)
            if closest:
                text += f" (closest recording differs at {closest})"
        return (f"{text} — record it with: carverify generate --suite {self.suite_name} "
                f"--provider openai --record")

    def _closest(self, messages: list[dict]) -> str | None:
        mine = canonical_messages(messages)
        same_length = [ex for _, ex in self.index.values() if len(ex.get("request", [])) == len(mine)]
        if not same_length:
            return None

        def shared_prefix(ex) -> int:
            return sum(1 for _ in _prefix(mine, ex["request"]))

        best = max(same_length, key=shared_prefix)
        return first_difference(mine, best["request"])


def _prefix(a: list, b: list) -> Iterable[int]:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return
        yield i


@dataclass
class ScriptedProvider:
    """Answers from a fixed list of replies, in order (authoring fixtures, tests).

    Each reply is a string or a (text, finish_reason) pair.  The requests it received
    are kept in `requests`, exactly as the loop sent them.
    """

    replies: list
    name: str = "scripted"
    sees_images: bool | None = True
    requests: list[list[dict]] = field(default_factory=list)

    def complete(self, messages: list[dict], *, model: str) -> Completion:
        self.requests.append(messages)
        if not self.replies:
            raise ProviderError(f"scripted provider has no reply left for request {len(self.requests)}")
        reply = self.replies.pop(0)
        text, finish = (reply, "stop") if isinstance(reply, str) else reply
        # No token counts: nothing was tokenised, and a made-up number would be logged as real.
        return Completion(text=text, usage={}, latency_seconds=0.0, request_hash=request_hash(messages),
                          finish_reason=finish, model=self.name)
