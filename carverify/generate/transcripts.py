"""Recorded model exchanges: the canonical request, its hash, and the transcript files.

A request is keyed by the sha256 of its messages in canonical JSON, with every image
replaced by the sha256 of its pixels and the model name left out, so a recording made
with one model replays for any other and a re-encoded PNG still matches.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from carverify.errors import UsageError
from carverify.generate.images import image_digest

FORMAT = "carverify-transcript"
FORMAT_VERSION = 1
_HASH_PREFIX = b"carverify-request-v1\n"


def canonical_messages(messages: list[dict]) -> list[dict]:
    """The messages as stored and hashed: roles and text kept, images reduced to their digest."""
    out = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.get("type") == "image_url":
                    parts.append({"type": "image", "sha256": image_digest(part["image_url"]["url"])})
                else:
                    parts.append({"type": part.get("type", "text"), "text": part.get("text", "")})
            content = parts
        out.append({"role": message["role"], "content": content})
    return out


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def request_hash(messages: list[dict]) -> str:
    return hashlib.sha256(_HASH_PREFIX + _dumps(canonical_messages(messages)).encode("utf-8")).hexdigest()


def default_folder(suite) -> Path:
    return Path(suite.path) / "transcripts"


class TranscriptWriter:
    """Appends exchanges to one JSON file, rewritten atomically after each one."""

    def __init__(self, path: Path, *, suite: str, provider: str, model: str, prompt_version: str,
                 authored: bool = False, note: str | None = None, labels: dict | None = None):
        self.path = Path(path)
        self.data: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "suite": suite, "provider": provider,
            "model": model, "prompt_version": prompt_version, "authored": authored,
            "recorded_at": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat(),
            "exchanges": [],
        }
        if note:
            self.data["note"] = note
        # What a reader needs to trust a recording: e.g. quantisation, runtime version, sampling.
        self.data.update(labels or {})

    def add(self, *, step: str, round: int, messages: list[dict], completion) -> None:
        self.data["exchanges"].append({
            "step": step, "round": round, "request_hash": completion.request_hash,
            "request": canonical_messages(messages),
            "response": {"text": completion.text, "finish_reason": completion.finish_reason,
                         "usage": dict(completion.usage), "model": completion.model},
            "latency_seconds": round_(completion.latency_seconds),
        })
        self._flush()

    def _flush(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.stem, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.data, fh, indent=1, ensure_ascii=False)
                fh.write("\n")
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a transcript is meant to be shared
            os.replace(tmp, self.path)
        except OSError as exc:
            raise UsageError(f"cannot write transcript {self.path}: {exc.strerror or exc}") from exc


def round_(value: float) -> float:
    return round(float(value), 3)


def new_transcript_path(folder: Path, provider: str, model: str) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    safe_model = "".join(c if c.isalnum() or c in "-_." else "-" for c in model)[:60]
    return Path(folder) / f"{stamp}-{provider}-{safe_model}.json"


def load_exchanges(folder: Path) -> list[tuple[Path, dict]]:
    """Every exchange of every transcript in `folder`, in file-name order."""
    out = []
    folder = Path(folder)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read transcript {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UsageError(f"{path} is not a carverify transcript (expected \"format\": \"{FORMAT}\")")
        for exchange in data.get("exchanges", []):
            out.append((path, exchange))
    return out


def first_difference(a: list[dict], b: list[dict]) -> str | None:
    """Where two canonical requests first differ, in words (for replay misses)."""
    if len(a) != len(b):
        return f"{len(a)} messages vs {len(b)} recorded"
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        if x["role"] != y["role"]:
            return f"message {i + 1}: role {x['role']} vs {y['role']}"
        text_x, text_y = _text(x["content"]), _text(y["content"])
        if text_x == text_y:
            return f"message {i + 1} ({x['role']}): the images differ"
        at = next((k for k, (p, q) in enumerate(zip(text_x, text_y)) if p != q), min(len(text_x), len(text_y)))
        line = text_x.count("\n", 0, at) + 1
        return (f"message {i + 1} ({x['role']}) line {line}: {_excerpt(text_x, at)!r} "
                f"vs recorded {_excerpt(text_y, at)!r}")
    return None


def _text(content) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text", f"[image {p.get('sha256', '')[:12]}]") for p in content)


def _excerpt(text: str, at: int) -> str:
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    line = text[start:end if end >= 0 else len(text)]
    return line if len(line) <= 100 else line[max(0, at - start - 40):at - start + 60]
