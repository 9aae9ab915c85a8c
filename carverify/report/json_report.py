"""The report as pretty JSON: `AuditReport.to_dict()`, made strictly JSON-safe."""
from __future__ import annotations

import json
import math
from typing import Any

from carverify.result import AuditReport


def render_json(report: AuditReport) -> str:
    return json.dumps(plain(report.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)


def plain(value: Any) -> Any:
    """`value` as JSON types only.

    Stage metrics and `Finding.data` are free-form: numpy scalars would make
    `json.dumps` raise, and NaN/inf (e.g. precision with no positive frames)
    would produce output that strict JSON parsers reject, so they become null.
    Strings may hold lone surrogates from undecodable source bytes; no file could store them.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [plain(v) for v in sorted(value, key=repr)]  # stable output across runs
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays, without importing numpy
        return plain(value.tolist())
    return str(value)


def encodable(text: str) -> str:
    """`text` with lone surrogates (undecodable source bytes) spelled out, so UTF-8 can carry it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
