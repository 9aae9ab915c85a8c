"""JUnit XML: one <testsuite> per program, one <testcase> per stage, valid against the Jenkins junit xsd.

That schema allows only name, time, tests, failures and errors on <testsuites> (no `skipped`);
every test case gets its own classname (suite and program) and a name unique in the file,
so CI test tabs list each program's stages apart.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Sequence

from carverify import __version__
from carverify.result import AuditReport, StageResult

# Characters XML 1.0 cannot carry at all, even escaped; a counterexample repr may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(reports: Sequence[AuditReport]) -> str:
    root = ET.Element("testsuites", {"name": "carverify"})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    seconds = 0.0
    for report in reports:
        counts = _counts(report)
        for key in totals:
            totals[key] += counts[key]
        seconds += report.seconds
        suite = ET.SubElement(root, "testsuite", {
            "name": _clean(report.program_path), **{k: str(v) for k, v in counts.items()},
            "time": _seconds(report.seconds)})
        properties = ET.SubElement(suite, "properties")
        for name, value in (("carverify.version", __version__), ("suite", report.suite),
                            ("program_sha256", report.program_sha256), ("verdict", report.verdict),
                            ("cached", "true" if report.cached else "false")):
            ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
        for stage in report.stages:
            _testcase(suite, stage, report)
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("time", _seconds(seconds))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _counts(report: AuditReport) -> dict[str, int]:
    return {"tests": len(report.stages),
            "failures": sum(s.status == "failed" for s in report.stages),
            "errors": sum(s.status == "error" for s in report.stages),
            "skipped": sum(s.status == "skipped" for s in report.stages)}


def classname(report: AuditReport) -> str:
    """`carverify.<suite>.<program path, dotted>`: Jenkins reads the last dot as package / class."""
    program = re.sub(r"\.py$", "", report.program_path.replace("\\", "/").lstrip("./"))
    return f"carverify.{report.suite}." + program.replace(".", "_").replace("/", ".")


def _testcase(suite: ET.Element, stage: StageResult, report: AuditReport) -> None:
    case = ET.SubElement(suite, "testcase", {
        "classname": _clean(classname(report)), "name": _clean(f"{report.program_path}::{stage.stage}"),
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
