"""GitHub Actions workflow commands: one `::error file=…,line=…,col=…,title=…::message` per finding.

The runner turns each into an annotation on the pull request's diff.  Property values and
messages are escaped as the runner expects (%, CR, LF everywhere; also : and , in properties).
"""
from __future__ import annotations

from typing import Sequence

from carverify.report.json_report import encodable
from carverify.result import AuditReport


def render_github(reports: Sequence[AuditReport]) -> str:
    lines = []
    for report in reports:
        for stage in report.stages:
            level = "warning" if stage.status == "error" else "error"  # carverify broke: not the code's fault
            for finding in stage.findings:
                props = {"file": report.program_path}
                if finding.line:
                    props["line"] = str(finding.line)
                    if finding.col is not None:
                        props["col"] = str(finding.col + 1)
                props["title"] = f"carverify {finding.code}"
                message = finding.message + (f" — {finding.hint}" if finding.hint else "")
                fields = ",".join(f"{k}={_property(v)}" for k, v in props.items())
                lines.append(f"::{level} {fields}::{_data(message)}")
        if report.verdict == "error" and not report.findings:
            lines.append(f"::warning file={_property(report.program_path)}::{_data('audit could not finish')}")
    return encodable("\n".join(lines))


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
