"""The report as SARIF 2.1.0, for code-scanning UIs (GitHub, GitLab, VS Code SARIF viewer)."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from carverify import __version__
from carverify.codes import CODES, EXPLAIN
from carverify.report.json_report import plain
from carverify.result import AuditReport, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/carverify/"
FINGERPRINT_KEY = "carverifyFindingHash/v1"


def render_sarif(report: AuditReport) -> str:
    uri = artifact_uri(report.program_path)
    # Error-stage findings describe carverify's own failure, not the program, so they go to the
    # invocation's notifications instead of raising alerts on the user's code.
    findings = [f for s in report.stages if s.status != "error" for f in s.findings]
    broken = [f for s in report.stages if s.status == "error" for f in s.findings]
    codes = sorted({f.code for f in findings})
    index = {code: i for i, code in enumerate(codes)}
    seen: dict[str, int] = {}
    results = [_result(f, uri, index, seen) for f in findings]
    invocation: dict[str, Any] = {"executionSuccessful": report.verdict != "error"}
    if broken:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": f.render(report.program_path)}} for f in broken]
    run = {
        "tool": {"driver": {
            "name": "carverify", "version": __version__, "semanticVersion": __version__,
            "informationUri": INFORMATION_URI, "rules": [_rule(code) for code in codes]}},
        "invocations": [invocation],
        "artifacts": [_artifact(uri, report.program_sha256)],
        "results": results,
        "properties": {"suite": report.suite, "verdict": report.verdict},
    }
    sarif = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(plain(sarif), indent=2, ensure_ascii=False)


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


def _result(finding: Finding, uri: str, index: dict[str, int],
            seen: dict[str, int]) -> dict[str, Any]:
    region: dict[str, int] = {"startLine": finding.line if finding.line and finding.line > 0 else 1}
    if finding.line and finding.col is not None:
        region["startColumn"] = finding.col + 1  # Finding.col is 0-based (ast); SARIF is 1-based
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
