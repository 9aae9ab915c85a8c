"""Stored audits, like ruff's and mypy's caches: an unchanged program is not audited again.

The key covers everything a verdict depends on: the program's bytes, every file of the suite
folder, the stages asked for, the limits, and carverify itself (its version and the bytes of
its own and the sandbox's source, so an edited checkout never serves a stale verdict).
Only verdicts are stored: an audit that ended in `error` (carverify or the machine broke)
runs again next time.  Entries are written to a temporary file and renamed, so parallel
runs never read half an entry.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from carverify.result import AuditReport

_FORMAT = "v1"


def folder() -> Path:
    from carverify.cachedir import cache_dir

    return cache_dir() / "audits" / _FORMAT


@functools.lru_cache(maxsize=1)
def _tool_digest() -> str:
    from carverify import __version__

    h = hashlib.sha256(__version__.encode() + b"\0")
    root = Path(__file__).resolve().parents[1]
    for package in ("carverify", "sandbox"):
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".json", ".md", ".toml") and path.is_file():
                h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=16)
def _suite_digest(suite_folder: str) -> str:
    h = hashlib.sha256()
    base = Path(suite_folder)
    for path in sorted(base.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def key(raw: bytes, suite, stages: tuple[str, ...] | None, limits: dict[str, Any]) -> str:
    """The cache key of one audit: see the module docstring for what it covers."""
    from carverify.episodes import cache_key

    h = hashlib.sha256()
    # cache_key: the expert, oracle and adapter files the suite names, the adapter's code and
    # the simulator versions, which the folder's digest alone does not see.
    for part in (hashlib.sha256(raw).hexdigest(), suite.name, _suite_digest(str(suite.path)), cache_key(suite),
                 json.dumps(list(stages) if stages else None), json.dumps(limits, sort_keys=True),
                 _tool_digest()):
        h.update(part.encode() + b"\0")
    return h.hexdigest()


def load(cache_key: str, path: str) -> AuditReport | None:
    """The stored report for `cache_key`, marked cached and named by `path`; None on a miss."""
    try:
        data = json.loads((folder() / cache_key[:2] / f"{cache_key}.json").read_text(encoding="utf-8"))
        report = AuditReport.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, or damaged: audit again rather than trust it
    report.program_path = path
    report.cached = True
    return report


def store(cache_key: str, report: AuditReport) -> None:
    """Keep a verdict for next time; an `error` report is not a verdict and is not kept."""
    if report.verdict == "error":
        return
    from carverify.report.json_report import render_json

    target = folder() / cache_key[:2] / f"{cache_key}.json"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_json(report))
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only or full cache costs the next run time, never this run its verdict
