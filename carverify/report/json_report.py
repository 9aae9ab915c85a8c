"""JSON: one report (`AuditReport.to_dict()`), or the audit command's document holding every report.

The document has the same shape for one program or many; `report.schema.json` beside this
module describes both, and tests validate against it.
"""
from __future__ import annotations

import collections
import json
import math
from importlib import resources
from typing import Any, Sequence

from carverify.result import REPORT_SCHEMA_VERSION, AuditReport

SCHEMA_FILE = "report.schema.json"


def render_json(report: AuditReport) -> str:
    """One report, as `carverify generate` stores it beside its program and MLflow logs it."""
    return json.dumps(plain(report.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)


def render_document(reports: Sequence[AuditReport]) -> str:
    """`carverify audit --json`: {schema_version, tool, verdict, summary, reports: [...]}, for 1 or N programs."""
    from carverify import __version__

    counts = collections.Counter(r.verdict for r in reports)
    worst = "error" if counts["error"] else "rejected" if counts["rejected"] else "accepted"
    document = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "carverify", "version": __version__},
        "verdict": worst,
        "summary": {"programs": len(reports), "accepted": counts["accepted"], "rejected": counts["rejected"],
                    "error": counts["error"], "cached": sum(r.cached for r in reports)},
        "reports": [r.to_dict() for r in reports],
    }
    return json.dumps(plain(document), indent=2, ensure_ascii=False, allow_nan=False)


def report_schema() -> dict:
    """The JSON Schema (draft 2020-12) of the document and of one report, shipped in the package."""
    return json.loads(resources.files("carverify.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


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
