"""The human report: every finding as `path:line:col CODE message — hint`, a stage table, a verdict."""
from __future__ import annotations

import math

from carverify.report.json_report import encodable
from carverify.result import AuditReport, Finding, StageResult

_GREEN, _RED, _YELLOW, _DIM, _BOLD = "32", "31", "33", "2", "1"
_STATUS_COLOR = {"passed": _GREEN, "failed": _RED, "error": _YELLOW, "skipped": _DIM}
_VERDICT_COLOR = {"accepted": _GREEN, "rejected": _RED, "error": _YELLOW}
_HEADER = ("stage", "status", "findings", "seconds", "key metric")


def render_text(report: AuditReport, *, color: bool = False) -> str:
    paint = _painter(color)
    blocks = []
    if report.findings:
        blocks.append("\n".join(_finding_line(f, report.program_path, paint) for f in report.findings))
    if report.stages:
        blocks.append(_stage_table(report.stages, paint))
    # What a passing stage did not check belongs beside the verdict, not only in --json.
    unchecked = [f"  {s.stage}: {what}: {why}" for s in report.stages for what, why in s.skipped_checks.items()]
    if unchecked:
        blocks.append("\n".join(["not checked:", *unchecked]))
    blocks.append(verdict_line(report, paint))
    return encodable("\n\n".join(blocks))


def verdict_line(report: AuditReport, paint=None) -> str:
    """`REJECTED  program.py  (suite S, sha256 1234abcd…, 0.84 s)` — the line CI logs end on."""
    paint = paint or _painter(False)
    verdict = paint(report.verdict.upper(), _BOLD + ";" + _VERDICT_COLOR[report.verdict])
    return (f"{verdict}  {report.program_path}  (suite {report.suite}, "
            f"sha256 {report.program_sha256[:8]}…, {report.seconds:.2f} s)")


def _finding_line(finding: Finding, path: str, paint) -> str:
    text = finding.render(path)
    # Continuation lines (tracebacks, pasted counterexamples) stay visibly attached to their finding.
    text = text.replace("\n", "\n    ")
    head = finding.location(path) + " "
    return head + paint(finding.code, _BOLD) + text[len(head) + len(finding.code):]


def _stage_table(stages: list[StageResult], paint) -> str:
    rows = [_HEADER] + [
        (s.stage, s.status, str(len(s.findings)), f"{s.seconds:.2f}", key_metric(s))
        for s in stages
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
    lines = []
    for n, (stage, status, count, seconds, metric) in enumerate(rows):
        # Pad before painting: escape codes would otherwise count towards the width.
        status_cell = status.ljust(widths[1])
        if n:
            status_cell = paint(status_cell, _STATUS_COLOR.get(status, ""))
        line = "  ".join([stage.ljust(widths[0]), status_cell,
                          count.rjust(widths[2]), seconds.rjust(widths[3]), metric])
        lines.append(paint(line, _DIM) if n == 0 else line.rstrip())
    return "\n".join(lines)


def key_metric(stage: StageResult) -> str:
    """The stage's first metric as `name=value`; stages put their headline number first."""
    if not stage.metrics:
        return ""
    name, value = next(iter(stage.metrics.items()))
    return f"{name}={_number(value)}"


def _number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _painter(color: bool):
    if not color:
        return lambda text, code: text
    return lambda text, code: f"\x1b[{code}m{text}\x1b[0m" if code else text
