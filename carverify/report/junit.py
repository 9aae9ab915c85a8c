"""The report as JUnit XML: one testsuite per program, one testcase per stage, for CI test tabs."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from carverify import __version__
from carverify.result import AuditReport, StageResult

# Characters XML 1.0 cannot carry at all, even escaped; a counterexample repr may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(report: AuditReport) -> str:
    counts = {s: sum(st.status == s for st in report.stages) for s in ("failed", "error", "skipped")}
    totals = {"tests": str(len(report.stages)), "failures": str(counts["failed"]),
              "errors": str(counts["error"]), "skipped": str(counts["skipped"]),
              "time": _seconds(report.seconds)}
    root = ET.Element("testsuites", {"name": "carverify", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": _clean(report.program_path), **totals})
    properties = ET.SubElement(suite, "properties")
    for name, value in (("carverify.version", __version__), ("suite", report.suite),
                        ("program_sha256", report.program_sha256), ("verdict", report.verdict)):
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    for stage in report.stages:
        _testcase(suite, stage, report)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _testcase(suite: ET.Element, stage: StageResult, report: AuditReport) -> None:
    # Jenkins splits classname at the last dot into package and class: carverify > suite.
    case = ET.SubElement(suite, "testcase", {
        "classname": _clean(f"carverify.{report.suite}"), "name": stage.stage,
        "time": _seconds(stage.seconds)})
    if stage.status == "skipped":
        ET.SubElement(case, "skipped")
    elif stage.status in ("failed", "error"):
        tag = "failure" if stage.status == "failed" else "error"
        lines = [f.render(report.program_path) for f in stage.findings]
        if lines:
            message = lines[0].splitlines()[0]
            if len(lines) > 1:
                message += f" (and {len(lines) - 1} more)"
            kind = stage.findings[0].code
        else:
            message, kind = f"stage {stage.stage} {stage.status} without findings", stage.status
        element = ET.SubElement(case, tag, {"message": _clean(message), "type": kind})
        element.text = _clean("\n".join(lines) or message)


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _clean(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
