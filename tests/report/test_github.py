"""`--format github`: one workflow command per finding, escaped as the Actions runner parses them."""
from carverify.report import render
from carverify.result import AuditReport, Finding, StageResult


def test_each_finding_is_an_error_annotation_at_its_line_and_column(rejected):
    lines = render(rejected, "github").splitlines()
    assert lines == [
        "::error file=program.py,line=12,col=5,title=carverify CV203::attribute 'tofile' is not allowed on arrays "
        "— allowed: shape, ndim, size, astype",
        "::error file=program.py,title=carverify CV206::sub-task function 'at_goal' is missing "
        "— define def at_goal(obs): ...",
        "::error file=program.py,line=7,col=1,title=carverify CV501::door_open: completed in 17/20 expert "
        "episodes (need 20/20); first missed: seed 4, frame 9",
    ]


def test_accepted_programs_print_nothing(accepted):
    assert render(accepted, "github") == ""


def test_infrastructure_errors_are_warnings_not_errors(errored):
    (line,) = render(errored, "github").splitlines()
    assert line.startswith("::warning file=program.py,title=carverify CV306::")


def test_newlines_percent_and_separators_are_escaped():
    report = AuditReport("dir,x/a:b.py", "0" * 64, "s", [StageResult("properties", "failed", [
        Finding("CV401", "raised on\nobs 100% of the time", line=2, col=0)])])
    assert render([report], "github") == (
        "::error file=dir%2Cx/a%3Ab.py,line=2,col=1,title=carverify CV401::raised on%0Aobs 100%25 of the time")
