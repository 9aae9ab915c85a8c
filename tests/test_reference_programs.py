"""Every suite's reference programs get the verdict and codes their manifest states, through a full audit."""
import tomllib

import pytest

from carverify.audit import audit_file
from carverify.suite import list_suites

TABLETOP_IN_CI = {("tabletop-block-in-box-state", "box_checks.py"), ("tabletop-block-in-bowl", "wrong_pairing.py")}
CASES = []
for suite in list_suites():
    manifest = tomllib.loads((suite.path / "programs" / "manifest.toml").read_text())
    for entry in manifest["program"]:
        # slow.py is the same program in every MiniGrid suite, and burns its CPU budget by design
        # (~25-40 s a suite): CI audits it on one; make test-long audits it on the rest.
        marks = [pytest.mark.long] if entry["file"] == "slow.py" and suite.name != "minigrid-doorkey-5x5" else []
        # A tabletop suite builds 2,000 settled PyBullet states on its first audit (7-50 s): CI
        # audits block-in-box-state's accepted program (the quickest states to build, coverage
        # included) and one pixel program rejected before coverage; make test-long the rest.
        if suite.name.startswith("tabletop-") and (suite.name, entry["file"]) not in TABLETOP_IN_CI:
            marks = [pytest.mark.long]
        CASES.append(pytest.param(suite, entry, id=f"{suite.name}/{entry['file']}", marks=marks))


@pytest.mark.slow
@pytest.mark.parametrize("suite,entry", CASES)
def test_reference_program(suite, entry):
    report = audit_file(suite.path / "programs" / entry["file"], suite)
    found = [f.code for f in report.findings]
    detail = "\n".join(f.render(entry["file"]) for f in report.findings)
    assert report.verdict == entry["verdict"], detail
    assert set(entry["codes"]) <= set(found), f"expected {entry['codes']}, got {found}\n{detail}"
    if entry["verdict"] == "accepted":
        assert [s.status for s in report.stages] == ["passed"] * len(report.stages)


def test_every_suite_has_accepted_and_rejected_programs():
    by_suite = {}
    for param in CASES:
        suite, entry = param.values
        by_suite.setdefault(suite.name, set()).add(entry["verdict"])
    # Five MiniGrid suites, four Panda suites (push/slide, state and pixels), six tabletop suites
    # (block-in-bowl, block-in-box and separate-piles, pixels and state).
    assert len(by_suite) == 15 and all(v == {"accepted", "rejected"} for v in by_suite.values())
