"""Renderers of audit reports: text for people; JSON, JUnit XML, SARIF and GitHub annotations for machines.

Every machine format takes the reports of one run (one program or a sweep) and writes one
document of the same shape whatever their number.
"""
from __future__ import annotations

from typing import Callable, Sequence

from carverify.errors import UsageError
from carverify.report.github import render_github
from carverify.report.json_report import render_document, render_json
from carverify.report.junit import render_junit
from carverify.report.sarif import render_sarif
from carverify.report.text import render_text
from carverify.result import AuditReport

FORMATS: dict[str, Callable[[Sequence[AuditReport]], str]] = {
    "json": render_document,
    "junit": render_junit,
    "sarif": render_sarif,
    "github": render_github,
}

__all__ = ["FORMATS", "render", "render_document", "render_github", "render_json", "render_junit",
           "render_sarif", "render_text"]


def render(reports: AuditReport | Sequence[AuditReport], fmt: str = "text") -> str:
    """The reports in `fmt` (text, json, junit, sarif or github), without a trailing newline."""
    reports = [reports] if isinstance(reports, AuditReport) else list(reports)
    if fmt == "text":
        return "\n\n".join(render_text(r) for r in reports)
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise UsageError(
            f"unknown report format {fmt!r}; choose one of text, {', '.join(FORMATS)}"
        ) from None
    return renderer(reports)
