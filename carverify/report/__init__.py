"""Renderers of an `AuditReport`: text for people, JSON, JUnit XML and SARIF for machines."""
from __future__ import annotations

from typing import Callable

from carverify.errors import UsageError
from carverify.report.json_report import render_json
from carverify.report.junit import render_junit
from carverify.report.sarif import render_sarif
from carverify.report.text import render_text
from carverify.result import AuditReport

FORMATS: dict[str, Callable[[AuditReport], str]] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "sarif": render_sarif,
}

__all__ = ["FORMATS", "render", "render_json", "render_junit", "render_sarif", "render_text"]


def render(report: AuditReport, fmt: str = "text") -> str:
    """The report in `fmt` (text, json, junit or sarif), without a trailing newline."""
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}"
        ) from None
    return renderer(report)
