"""SARIF 2.1.0 output, checked against the spec's required properties (no schema download here)."""
import json
import re
from pathlib import Path

import pytest

from carverify import __version__
from carverify.codes import CODES, EXPLAIN
from carverify.report import render
from carverify.report.sarif import FINGERPRINT_KEY, artifact_uri, render_sarif
from carverify.result import AuditReport, Finding, StageResult

LEVELS = {"none", "note", "warning", "error"}


def check_sarif(log):
    """Assert what SARIF 2.1.0 (OASIS, sections 3.13-3.27) requires, plus what GitHub needs."""
    assert set(log) <= {"$schema", "version", "runs", "inlineExternalProperties", "properties"}
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "carverify"
    assert driver["version"] == __version__
    assert re.match(r"https?://", driver["informationUri"])
    rules = driver["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for rule in rules:
        assert rule["id"] in CODES
        assert rule["shortDescription"] == {"text": CODES[rule["id"]]}
        assert rule["help"] == rule["fullDescription"] == {"text": EXPLAIN[rule["id"]]}
        assert re.fullmatch(r"[A-Za-z0-9]+", rule["name"])
    for invocation in run.get("invocations", []):
        assert isinstance(invocation["executionSuccessful"], bool)
        for note in invocation.get("toolExecutionNotifications", []):
            assert note["message"]["text"] and note["level"] in LEVELS
    for result in run["results"]:
        assert result["message"]["text"]
        assert result["level"] in LEVELS
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"], "GitHub drops results without a location"
        physical = result["locations"][0]["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert "\\" not in uri and " " not in uri
        region = physical["region"]
        assert isinstance(region["startLine"], int) and region["startLine"] >= 1
        assert region.get("startColumn", 1) >= 1
        fingerprints = result["partialFingerprints"]
        assert fingerprints and all(isinstance(v, str) and v for v in fingerprints.values())
    return run


def _sarif(report):
    return json.loads(render_sarif(report))


def test_accepted_has_no_results_and_no_rules(accepted):
    run = check_sarif(_sarif(accepted))
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert run["properties"] == {"suite": "minigrid-doorkey-5x5", "verdict": "accepted"}


def test_rejected_results_point_at_the_source(rejected):
    run = check_sarif(json.loads(render(rejected, "sarif")))
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["CV203", "CV206", "CV501"]
    assert rules[0] == {"id": "CV203", "name": "AttributeNotAllowed",
                        "shortDescription": {"text": "attribute not allowed"},
                        "fullDescription": {"text": EXPLAIN["CV203"]}, "help": {"text": EXPLAIN["CV203"]},
                        "defaultConfiguration": {"level": "error"}}
    first, missing, trajectory = run["results"]
    assert first["ruleId"] == "CV203" and first["ruleIndex"] == 0 and first["level"] == "error"
    assert first["message"]["text"] == (
        "attribute 'tofile' is not allowed on arrays — allowed: shape, ndim, size, astype")
    assert first["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "program.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 12, "startColumn": 5}}  # Finding.col 4 is 0-based
    assert missing["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert missing["properties"] == {"subtask": "at_goal"}
    assert trajectory["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 7, "startColumn": 1}
    assert trajectory["properties"]["data"] == {"completed": 17, "episodes": 20}
    assert run["artifacts"] == [{"location": {"uri": "program.py", "uriBaseId": "%SRCROOT%"},
                                 "hashes": {"sha-256": rejected.program_sha256}}]


def test_error_stage_findings_are_notifications_not_alerts(errored):
    run = check_sarif(_sarif(errored))
    assert run["results"] == []
    assert run["invocations"] == [{"executionSuccessful": False, "toolExecutionNotifications": [{
        "level": "error",
        "message": {"text": "program.py CV306 sandbox child was killed by signal 9 before it started"}}]}]


def _fingerprints(findings):
    report = AuditReport("program.py", "0" * 64, "s", [StageResult("policy", "failed", findings)])
    return [r["partialFingerprints"][FINGERPRINT_KEY] for r in _sarif(report)["runs"][0]["results"]]


def test_fingerprints_survive_moved_lines_and_changed_counts():
    before = _fingerprints([Finding("CV501", "door_open: completed in 17/20 episodes", line=3)])
    after = _fingerprints([Finding("CV501", "door_open: completed in 18/20 episodes", line=9, col=2)])
    assert before == after


def test_fingerprints_separate_identical_findings_and_different_codes():
    same = Finding("CV203", "attribute 'tofile' is not allowed", line=3, col=4)
    prints = _fingerprints([same, same, Finding("CV202", "attribute 'tofile' is not allowed")])
    assert len(set(prints)) == 3


@pytest.mark.parametrize("path, uri", [
    ("program.py", "program.py"),
    ("suites/door key/bad.py", "suites/door%20key/bad.py"),
    ("./suites/../program.py", "program.py"),
])
def test_relative_paths_stay_relative_with_forward_slashes(path, uri, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert artifact_uri(path) == uri
    assert artifact_uri(str(tmp_path / path)) == uri


def test_paths_outside_the_working_directory_are_file_uris(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    outside = tmp_path / "elsewhere" / "program.py"
    report = AuditReport(str(outside), "0" * 64, "s", [StageResult("policy", "failed", [
        Finding("CV201", "m", line=1, col=0)])])
    run = check_sarif(_sarif(report))
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": Path(outside).as_uri()}


def test_unknown_code_still_gets_a_rule():
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("policy", "failed", [
        Finding("CV999", "brand new check")])])
    rule = _sarif(report)["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule["id"] == "CV999" and rule["shortDescription"] == {"text": "CV999"} and "help" not in rule
