"""The report as SARIF 2.1.0, for code-scanning UIs (GitHub, GitLab, VS Code SARIF viewer)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

from carverify import __version__
from carverify.codes import CODES, EXPLAIN
from carverify.report.json_report import plain
from carverify.result import AuditReport, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/carverify/"
FINGERPRINT_KEY = "carverifyFindingHash/v1"


def render_sarif(reports: Sequence[AuditReport]) -> str:
    """One SARIF log with one run holding every program's results.

    GitHub code scanning no longer combines several runs of one tool and category in an
    upload, and caps the runs per upload; `runAutomationDetails.id` names the category.
    """
    reports = list(reports)
    uris = [artifact_uri(r.program_path) for r in reports]
    # Error-stage findings describe carverify's own failure, not the program, so they go to the
    # invocation's notifications instead of raising alerts on the user's code.
    alerts = [(f, uri, report) for report, uri in zip(reports, uris)
              for s in report.stages if s.status != "error" for f in s.findings]
    broken = [f.render(report.program_path) for report in reports
              for s in report.stages if s.status == "error" for f in s.findings]
    codes = sorted({f.code for f, _, _ in alerts})
    index = {code: i for i, code in enumerate(codes)}
    seen: dict[str, int] = {}
    lines = _LineCache()
    results = [_result(f, uri, index, seen, lines.get(report.program_path)) for f, uri, report in alerts]
    invocation: dict[str, Any] = {"executionSuccessful": all(r.verdict != "error" for r in reports)}
    if broken:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": text}} for text in broken]
    suites = sorted({r.suite for r in reports})
    artifacts: dict[str, dict[str, Any]] = {}
    for report, uri in zip(reports, uris):
        artifacts.setdefault(uri, _artifact(uri, report.program_sha256))
    run = {
        "tool": {"driver": {
            "name": "carverify", "version": __version__, "semanticVersion": __version__,
            "informationUri": INFORMATION_URI, "rules": [_rule(code) for code in codes]}},
        "automationDetails": {"id": category(suites)},
        "invocations": [invocation],
        "artifacts": list(artifacts.values()),
        # Columns count UTF-16 code units (what GitHub and VS Code use), stated rather than left to a default.
        "columnKind": "utf16CodeUnits",
        "results": results,
        "properties": {"suites": suites, "verdict": _worst(reports),
                       "programs": [{"uri": uri, "verdict": r.verdict, "cached": r.cached}
                                    for r, uri in zip(reports, uris)]},
    }
    sarif = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(plain(sarif), indent=2, ensure_ascii=False)


def category(suites: Sequence[str]) -> str:
    """`runAutomationDetails.id`: `carverify/<suite>/`; the part before the last slash is GitHub's category."""
    return f"carverify/{'+'.join(suites) or 'none'}/"


def _worst(reports: Sequence[AuditReport]) -> str:
    verdicts = {r.verdict for r in reports}
    return "error" if "error" in verdicts else "rejected" if "rejected" in verdicts else "accepted"


class _LineCache:
    """Source lines of each program, read (bounded) once, to turn byte columns into UTF-16 columns."""

    def __init__(self):
        self._lines: dict[str, list[bytes] | None] = {}

    def get(self, path: str) -> list[bytes] | None:
        if path not in self._lines:
            import sandbox

            try:
                self._lines[path] = sandbox.read_source(path).splitlines()
            except sandbox.UnreadableSource:
                self._lines[path] = None  # e.g. an in-memory audit: the column is left out, not guessed
        return self._lines[path]


def utf16_column(line: bytes, byte_offset: int) -> int:
    """1-based SARIF column (UTF-16 code units) of a 0-based UTF-8 byte offset, as Python's ast gives it."""
    before = line[:byte_offset].decode("utf-8", "surrogateescape")
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in before)
    return units + 1


def artifact_uri(path: str) -> str:
    """`path` as a URI reference: relative to the working directory if under it, else file://."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return absolute.as_uri()
    return quote(relative.as_posix(), safe="/")


def _artifact_location(uri: str) -> dict[str, str]:
    if uri.startswith("file:"):
        return {"uri": uri}
    return {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _artifact(uri: str, sha256: str) -> dict[str, Any]:
    artifact: dict[str, Any] = {"location": _artifact_location(uri)}
    if sha256:
        artifact["hashes"] = {"sha-256": sha256}
    return artifact


def _rule(code: str) -> dict[str, Any]:
    title = CODES.get(code, code)
    rule = {"id": code, "name": _pascal(title), "shortDescription": {"text": title},
            "defaultConfiguration": {"level": "error"}}
    if code in EXPLAIN:  # shown by code-scanning UIs beside the alert
        rule["fullDescription"] = {"text": EXPLAIN[code]}
        rule["help"] = {"text": EXPLAIN[code]}
    return rule


def _result(finding: Finding, uri: str, index: dict[str, int], seen: dict[str, int],
            lines: list[bytes] | None) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": finding.line if finding.line and finding.line > 0 else 1}
    # Without the source (an in-memory audit) the column cannot be measured: left out, not guessed.
    if finding.line and finding.col is not None and lines is not None and finding.line <= len(lines):
        region["startColumn"] = utf16_column(lines[finding.line - 1], finding.col)
    message = finding.message + (f" — {finding.hint}" if finding.hint else "")
    properties = {"subtask": finding.subtask} if finding.subtask else {}
    if finding.data:
        properties["data"] = finding.data
    result = {
        "ruleId": finding.code, "ruleIndex": index[finding.code], "level": "error",
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact_location(uri),
                                            "region": region}}],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(finding, uri, seen)},
    }
    if properties:
        result["properties"] = properties
    return result


def _fingerprint(finding: Finding, uri: str, seen: dict[str, int]) -> str:
    # Leave out line numbers and digits in the message, so an alert survives edits above it and
    # changing counts ("17/20 episodes"); number repeats so identical findings stay distinct.
    key = "\0".join([finding.code, uri, finding.subtask or "", re.sub(r"\d+", "#", finding.message)])
    seen[key] = seen.get(key, 0) + 1
    return hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()


def _pascal(title: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title))
