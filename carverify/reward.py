"""Rewards from an accepted reward program: what an audit report accepts, and the wrapper that pays.

    env = CodeReward(suite.make_env(), suite, source, "program.py.report.json")

CodeReward itself (the guarded reward path: reward worker, deadlines, fault policy,
runtime monitor) lives in carverify/deploy/reward.py; this module keeps the checks on
the audit report that every user of a program makes first.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from carverify.deploy.reward import CodeReward
from carverify.errors import UsageError

__all__ = ["CodeReward", "accepted_sha256", "audited_report", "read_report", "reference_program",
           "sha256_of", "subtask_names"]


def sha256_of(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()


def read_report(report: Any) -> dict:
    """An AuditReport, its to_dict(), or the path of its JSON file, as a dict.

    `carverify audit --json` writes a document holding a list of reports; one with a single
    report stands for that report.
    """
    if hasattr(report, "to_dict"):
        return report.to_dict()
    if isinstance(report, dict):
        return _single(report, "the report")
    if isinstance(report, (str, Path)):
        try:
            data = json.loads(Path(report).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read audit report {report}: {getattr(exc, 'strerror', None) or exc}") from exc
        return _single(data, str(report))
    raise UsageError(f"report must be an AuditReport, a dict or a JSON path, got {type(report).__name__}")


def _single(data: Any, where: str) -> dict:
    if isinstance(data, dict) and isinstance(data.get("reports"), list):
        if len(data["reports"]) != 1:
            raise UsageError(f"{where} holds {len(data['reports'])} programs' reports: audit the one program "
                             "to train with on its own (carverify audit PROGRAM --json PATH)")
        return data["reports"][0]
    if not isinstance(data, dict):
        raise UsageError(f"{where} is not an audit report (a JSON object)")
    return data


def accepted_sha256(source: str, report: Any, suite_name: str | None = None) -> str:
    """The program's sha256 if `report` accepts exactly this source (for this suite), else UsageError."""
    data = read_report(report)
    verdict = data.get("verdict")
    audited = str(data.get("program", {}).get("sha256", "")).lower()
    digest = sha256_of(source)
    if verdict != "accepted":
        raise UsageError(f"refusing a program its audit did not accept (verdict {verdict!r}): "
                         "fix it and run `carverify audit` until it is accepted")
    if digest != audited:
        raise UsageError(f"refusing a program that changed since its audit (sha256 {digest[:12]}…, "
                         f"audited {audited[:12] or 'nothing'}…): audit it again")
    if suite_name is not None and data.get("suite") != suite_name:
        raise UsageError(f"refusing a program audited against suite {data.get('suite')!r}, "
                         f"not {suite_name!r}: audit it with --suite {suite_name}")
    return digest


def reference_program(suite) -> tuple[str, str]:
    """(source, path) of the suite's reference program for training: [train] program in suite.toml."""
    name = suite.config.get("train", {}).get("program", "programs/tile_probes.py")
    path = suite.path / name
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read the reference program {path}: {exc.strerror or exc}") from exc


def audited_report(source: str, suite, path: str = "program.py", *, config=None) -> dict:
    """The audit report of `source` (a dict), from the on-disk cache or by auditing it now.

    The cache key covers the source, the suite's episode files and the carverify version,
    so an edited program, suite or release is audited afresh.
    """
    from carverify import __version__
    from carverify.audit import audit_source
    from carverify.episodes import cache_key, cache_root
    from carverify.report.json_report import render_json

    folder = cache_root().parent / "audits" / suite.name
    target = folder / f"{sha256_of(source)[:16]}-{cache_key(suite)}-{__version__}.json"
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    report = audit_source(source, suite, path=path, config=config)
    text = render_json(report)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return json.loads(text)


def subtask_names(source: str) -> tuple[str, ...]:
    """SUBTASKS of a program, read by the sandbox's parser (no code runs)."""
    from carverify.compiled import checked_program

    return tuple(checked_program(source)[1].subtasks)

