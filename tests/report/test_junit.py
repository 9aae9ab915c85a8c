"""JUnit XML: one testsuite per program, one testcase per program and stage with a distinct name,
valid against the Jenkins JUnit schema's constraints (tests/report/jenkins-junit.xsd)."""
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from carverify import __version__
from carverify.report import render
from carverify.report.junit import render_junit
from carverify.result import AuditReport, Finding, StageResult

XSD = xmlschema.XMLSchema(str(Path(__file__).with_name("jenkins-junit.xsd")))


def _parse(report):
    reports = [report] if isinstance(report, AuditReport) else report
    text = render_junit(reports)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    XSD.validate(text)
    return ET.fromstring(text.encode("utf-8"))


def test_the_xsd_rejects_what_jenkins_rejects():
    """The old output: `skipped` on <testsuites>; and a testcase without a name."""
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        XSD.validate('<testsuites name="carverify" tests="1" skipped="1"/>')
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        XSD.validate('<testsuites><testsuite name="p" tests="1" failures="0" errors="0"><testcase/>'
                     '</testsuite></testsuites>')


def test_several_programs_get_distinct_classnames_and_names(accepted, rejected):
    other = AuditReport("rewards/door.v2.py", accepted.program_sha256, accepted.suite, accepted.stages)
    root = _parse([accepted, rejected, other])
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["program.py", "program.py", "rewards/door.v2.py"]
    cases = [c for s in suites for c in s.findall("testcase")]
    assert root.get("tests") == str(len(cases)) == "12" and root.get("skipped") is None
    assert {c.get("classname") for c in suites[2].findall("testcase")} == {
        "carverify.minigrid-doorkey-5x5.rewards.door_v2"}
    named = [(c.get("classname"), c.get("name")) for c in cases if c in suites[2].findall("testcase")]
    assert named[0] == ("carverify.minigrid-doorkey-5x5.rewards.door_v2", "rewards/door.v2.py::parse")
    other_names = {c.get("name") for c in suites[2].findall("testcase")}
    assert not other_names & {c.get("name") for c in suites[0].findall("testcase")}


def _check_shape(root):
    """What Jenkins, GitLab and GitHub test reporters rely on."""
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    for element in (root, suite):
        assert int(element.get("tests")) == len(cases)
        assert int(element.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(element.get("errors")) == sum(c.find("error") is not None for c in cases)
        assert float(element.get("time")) >= 0
    assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
    assert root.get("skipped") is None  # the Jenkins schema has no skipped on <testsuites>
    for case in cases:
        assert case.get("name") and case.get("classname")
        assert float(case.get("time")) >= 0
        outcomes = [c for c in case if c.tag in ("failure", "error", "skipped")]
        assert len(outcomes) <= 1
    return suite, cases


def test_accepted_is_all_passing_testcases(accepted):
    suite, cases = _check_shape(_parse(accepted))
    assert suite.get("name") == "program.py"
    assert [c.get("name") for c in cases] == [f"program.py::{s}" for s in ("parse", "policy", "restricted", "compile")]
    assert {c.get("classname") for c in cases} == {"carverify.minigrid-doorkey-5x5.program"}
    assert all(len(c) == 0 for c in cases)
    assert suite.get("failures") == "0" and suite.get("time") == "0.841"
    assert [c.get("time") for c in cases] == ["0.001", "0.004", "0.310", "0.520"]


def test_properties_identify_the_audit(accepted):
    suite, _ = _check_shape(_parse(accepted))
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props == {"carverify.version": __version__, "suite": "minigrid-doorkey-5x5",
                     "program_sha256": accepted.program_sha256, "verdict": "accepted", "cached": "false"}


def test_failed_stage_lists_every_finding(rejected):
    root = _parse(rejected)
    suite, cases = _check_shape(root)
    assert (root.get("tests"), root.get("failures"), root.get("errors"), suite.get("skipped")) == (
        "4", "2", "0", "1")
    failure = cases[1].find("failure")
    assert failure.get("type") == "CV203"
    assert failure.get("message") == (
        "program.py:12:5 CV203 attribute 'tofile' is not allowed on arrays — allowed: shape, "
        "ndim, size, astype (and 1 more)")
    assert failure.text.splitlines() == [
        "program.py:12:5 CV203 attribute 'tofile' is not allowed on arrays — allowed: shape, ndim, size, astype",
        "program.py CV206 sub-task function 'at_goal' is missing — define def at_goal(obs): ...",
    ]
    assert cases[2].find("failure").get("message") == (
        "program.py:7:1 CV501 door_open: completed in 17/20 expert episodes (need 20/20); "
        "first missed: seed 4, frame 9")
    skipped = cases[3].find("skipped")
    assert skipped is not None and len(skipped) == 0 and not (skipped.text or "").strip()


def test_error_stage_is_a_junit_error(errored):
    XSD.validate(render(errored, "junit"))
    root = ET.fromstring(render(errored, "junit").encode("utf-8"))
    _, cases = _check_shape(root)
    error = cases[1].find("error")
    assert error.get("type") == "CV306"
    assert error.text == "program.py CV306 sandbox child was killed by signal 9 before it started"
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_failed_stage_without_findings_still_says_why():
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("compile", "failed")])
    failure = _check_shape(_parse(report))[1][0].find("failure")
    assert failure.get("message") == failure.text == "stage compile failed without findings"
    assert failure.get("type") == "failed"


def test_control_characters_cannot_break_the_xml():
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("properties", "failed", [
        Finding("CV401", "raised on obs containing b'\x00\x1b' & <tag>", line=2, col=0)])])
    failure = _check_shape(_parse(report))[1][0].find("failure")
    assert failure.text == "p.py:2:1 CV401 raised on obs containing b'\\x00\\x1b' & <tag>"
