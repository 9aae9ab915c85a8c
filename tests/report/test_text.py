"""The human report is pinned line by line: people and CI logs grep it."""
import re

import pytest

from carverify.errors import UsageError
from carverify.report import FORMATS, render
from carverify.report.text import render_text
from carverify.result import AuditReport, Finding, StageResult

REJECTED = """\
program.py:12:5 CV203 attribute 'tofile' is not allowed on arrays — allowed: shape, ndim, size, astype
program.py CV206 sub-task function 'at_goal' is missing — define def at_goal(obs): ...
program.py:7:1 CV501 door_open: completed in 17/20 expert episodes (need 20/20); first missed: seed 4, frame 9

stage         status   findings  seconds  key metric
parse         passed          0     0.00  bytes=812
policy        failed          2     0.00
trajectories  failed          1     0.42  expert_episodes=20
compile       skipped         0     0.00

REJECTED  program.py  (suite minigrid-doorkey-5x5, sha256 1234abcd…, 0.84 s)"""

ACCEPTED = """\
stage       status  findings  seconds  key metric
parse       passed         0     0.00  bytes=812
policy      passed         0     0.00  nodes=143
restricted  passed         0     0.31  ms_per_call=1.235
compile     passed         0     0.52

ACCEPTED  program.py  (suite minigrid-doorkey-5x5, sha256 1234abcd…, 0.84 s)"""

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_rejected_report_is_findings_then_table_then_verdict(rejected):
    assert render_text(rejected) == REJECTED


def test_accepted_report_has_no_findings_block(accepted):
    assert render_text(accepted) == ACCEPTED


def test_error_verdict_line(errored):
    assert render_text(errored).splitlines()[-1] == (
        "ERROR  program.py  (suite minigrid-doorkey-5x5, sha256 1234abcd…, 2.00 s)")


def test_no_escape_codes_unless_asked(rejected):
    assert "\x1b" not in render_text(rejected)


def test_color_only_adds_escape_codes(rejected):
    colored = render_text(rejected, color=True)
    assert "\x1b[1;31mREJECTED\x1b[0m" in colored
    assert "\x1b[31mfailed " in colored
    assert ANSI.sub("", colored) == REJECTED


def test_multiline_message_stays_indented_under_its_finding():
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("properties", "failed", [
        Finding("CV401", "raised ZeroDivisionError on\nobs = np.zeros((8, 8, 3))", line=3, col=8)])])
    assert render_text(report).splitlines()[:2] == [
        "p.py:3:9 CV401 raised ZeroDivisionError on", "    obs = np.zeros((8, 8, 3))"]


@pytest.mark.parametrize("finding, location", [
    (Finding("CV201", "m", line=12, col=4), "program.py:12:5"),  # ast col_offset is 0-based
    (Finding("CV201", "m", line=12, col=0), "program.py:12:1"),
    (Finding("CV201", "m", line=12), "program.py:12:1"),
    (Finding("CV201", "m"), "program.py"),
])
def test_finding_location_prints_one_based_columns(finding, location):
    assert finding.location() == location


def test_render_dispatches_every_format(rejected):
    assert set(FORMATS) == {"json", "junit", "sarif", "github"}  # text is render's default
    assert render(rejected) == render(rejected, "text") == REJECTED


def test_unknown_format_is_a_usage_error(rejected):
    with pytest.raises(UsageError, match=r"unknown report format 'html'; choose one of text, json, junit, sarif, github"):
        render(rejected, "html")


def test_undecodable_source_bytes_stay_printable():
    report = AuditReport("p.py", "0" * 64, "s", [StageResult("parse", "failed", [
        Finding("CV104", "byte 0xff at \udcff is not UTF-8", line=1, col=3)])])
    text = render_text(report)
    text.encode("utf-8")
    assert text.splitlines()[0] == "p.py:1:4 CV104 byte 0xff at \\udcff is not UTF-8"


def test_what_a_stage_did_not_check_is_listed_before_the_verdict():
    report = AuditReport(
        program_path="program.py", program_sha256="1234abcd" + "0" * 56, suite="minigrid-doorkey-5x5",
        stages=[StageResult("properties", "passed", [], {"examples": 60.0}, 1.5,
                            skipped_checks={"compiled twin": "not compared: a later stage rejected the program first"}),
                StageResult("trajectories", "failed", [Finding("CV502", "has_key: true at reset")], {}, 0.4)],
        limits={}, seconds=2.0)
    assert render_text(report).split("\n\n")[-2:] == [
        "not checked:\n  properties: compiled twin: not compared: a later stage rejected the program first",
        "REJECTED  program.py  (suite minigrid-doorkey-5x5, sha256 1234abcd…, 2.00 s)"]
