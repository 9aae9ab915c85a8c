"""JSON: one report is `AuditReport.to_dict()`; the audit command's document holds every report,
in one shape whatever their number; both strict JSON, both valid against the shipped JSON Schema."""
import json

import jsonschema
import numpy as np
import pytest

from carverify.report import render
from carverify.report.json_report import render_document, render_json, report_schema
from carverify.result import AuditReport, Finding, StageResult


def _strict_loads(text):
    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=reject)


def test_accepted_round_trips_to_dict(accepted):
    assert _strict_loads(render_json(accepted)) == accepted.to_dict()


def _validate(data):
    jsonschema.Draft202012Validator.check_schema(report_schema())
    jsonschema.Draft202012Validator(report_schema()).validate(data)
    return data


@pytest.mark.parametrize("count", [1, 2, 3])
def test_the_document_has_one_shape_whatever_the_number_of_programs(count, accepted, rejected, errored):
    reports = [accepted, rejected, errored][:count]
    data = _validate(_strict_loads(render(reports, "json")))
    assert set(data) == {"schema_version", "tool", "verdict", "summary", "reports"}
    assert data["schema_version"] == 2 and isinstance(data["reports"], list) and len(data["reports"]) == count
    assert data["reports"] == [_strict_loads(render_json(r)) for r in reports]
    assert data["verdict"] == ["accepted", "rejected", "error"][count - 1]
    assert data["summary"] == {"programs": count, "accepted": 1, "rejected": int(count > 1),
                               "error": int(count > 2), "cached": 0}
    # One report renders as a one-element document, never as a bare object.
    assert _strict_loads(render(reports[0], "json"))["reports"] == data["reports"][:1]


def test_the_schema_rejects_what_the_shape_forbids(accepted):
    data = _strict_loads(render([accepted], "json"))
    _validate(data)
    for broken in ({**data, "reports": data["reports"][0]},                     # an object, not a list
                   {**data, "schema_version": 1},
                   {**data, "reports": [{**data["reports"][0], "verdict": "fine"}]}):
        with pytest.raises(jsonschema.ValidationError):
            _validate(broken)


def test_a_stored_report_reads_back_as_the_same_report(rejected):
    again = AuditReport.from_dict(_strict_loads(render_json(rejected)))
    assert render_json(again) == render_json(rejected)


def _dropped_comparison():
    """A report as audit.py writes it when trajectories rejects a program before its deferred
    compiled comparison ran (properties passes, and says the comparison was not made), and a
    suite without an oracle (trajectories names the checks it skips)."""
    return AuditReport(
        program_path="program.py", program_sha256="ab" * 32, suite="minigrid-doorkey-5x5",
        stages=[StageResult("properties", "passed", metrics={"examples": 60.0, "compiled_calls": 0.0},
                            seconds=3.5, skipped_checks={"compiled twin": "not compared: a later stage "
                                                         "rejected the program first"}),
                StageResult("trajectories", "failed", [Finding("CV502", "has_key: already true at reset")],
                            seconds=4.4, skipped_checks={"perturbed play": "no perturbed episodes"})],
        limits={}, seconds=8.0)


def test_skipped_checks_are_part_of_the_shipped_schema_and_of_a_stored_report():
    """Every program the trajectories stage rejects carries properties' skipped_checks: its JSON
    must still validate, and a cached re-audit must still say which checks were not made."""
    report = _dropped_comparison()
    data = _validate(_strict_loads(render([report], "json")))
    assert data["reports"][0]["stages"][0]["skipped_checks"] == report.stages[0].skipped_checks
    with pytest.raises(jsonschema.ValidationError):   # reasons are text
        _validate({**data, "reports": [{**data["reports"][0], "stages": [
            {**data["reports"][0]["stages"][0], "skipped_checks": {"compiled twin": 1}}]}]})
    again = AuditReport.from_dict(_strict_loads(render_json(report)))
    assert [s.skipped_checks for s in again.stages] == [s.skipped_checks for s in report.stages]
    assert render_json(again) == render_json(report)


def test_rejected_keeps_every_finding(rejected):
    data = _validate(_strict_loads(render_json(rejected)))
    assert data["verdict"] == "rejected"
    assert data["schema_version"] == 2 and data["cached"] is False
    assert data["tool"]["name"] == "carverify"
    assert data["program"] == {"path": "program.py", "sha256": rejected.program_sha256}
    policy = data["stages"][1]
    assert policy["status"] == "failed"
    assert policy["findings"][0] == {
        "code": "CV203", "message": "attribute 'tofile' is not allowed on arrays", "line": 12,
        "col": 4, "subtask": None, "hint": "allowed: shape, ndim, size, astype", "data": {}}
    assert data["stages"][2]["findings"][0]["data"] == {"completed": 17, "episodes": 20}


def test_nan_metric_becomes_null(rejected):
    assert _strict_loads(render_json(rejected))["stages"][2]["metrics"] == {
        "expert_episodes": 20, "precision": None}


def test_numpy_values_become_plain_json():
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("compile", "failed", [
        Finding("CV602", "differs", data={"frame": np.int64(3), "got": np.array([True, False]),
                                          "seen": {"b", "a"}})],
        metrics={"speedup": np.float32(2.5), "calls": np.int32(7)})])
    data = _strict_loads(render_json(report))
    assert data["stages"][0]["metrics"] == {"speedup": 2.5, "calls": 7}
    assert data["stages"][0]["findings"][0]["data"] == {
        "frame": 3, "got": [True, False], "seen": ["a", "b"]}


def test_is_pretty_and_keeps_unicode(rejected):
    text = render_json(rejected)
    assert text.startswith('{\n  "schema_version": 2,')
    assert not text.endswith("\n")
    # Non-ASCII text is written as itself, not as \u escapes (the fixture has none: add some).
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("trajectories", "failed", [
        Finding("CV506", "door_open — précision 0.5 ≥ nothing")])])
    text = render_json(report)
    assert "door_open — précision 0.5 ≥ nothing" in text and "\\u2014" not in text


def test_undecodable_source_bytes_stay_writable():
    # The CLI reads sources with surrogateescape; a finding may quote the bad byte.
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("parse", "failed", [
        Finding("CV104", "byte 0xff at \udcff is not UTF-8", line=1, col=3)])])
    text = render_json(report)
    text.encode("utf-8")
    assert _strict_loads(text)["stages"][0]["findings"][0]["message"] == "byte 0xff at \\udcff is not UTF-8"
