"""What an audit report accepts: the checks every user of a program makes before it pays a reward."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from carverify.errors import UsageError


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
