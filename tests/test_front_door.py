"""The Python front door: `from carverify import audit, load_suite, CodeReward, AuditReport`."""
from pathlib import Path

import carverify
from carverify import AuditReport, CodeReward, audit, load_suite
from carverify.audit import audit_file, audit_source  # the module stays importable by its old name

PROGRAM = Path(__file__).resolve().parents[1] / "suites" / "minigrid-doorkey-5x5" / "programs" / "wrong_order.py"


def test_the_front_door_names_are_the_functions_and_types():
    assert callable(audit) and carverify.audit is audit and callable(audit_file) and callable(audit_source)
    assert CodeReward.__name__ == "CodeReward" and AuditReport.__name__ == "AuditReport"
    assert load_suite("minigrid-doorkey-5x5").name == "minigrid-doorkey-5x5"


def test_audit_takes_a_path_or_source_and_returns_a_typed_report():
    stages = ["parse", "policy"]
    by_path = audit(PROGRAM, "minigrid-doorkey-5x5", stages=stages)
    by_source = audit(PROGRAM.read_text(), load_suite("minigrid-doorkey-5x5"), stages=stages)
    assert isinstance(by_path, AuditReport) and isinstance(by_source, AuditReport)
    assert by_path.verdict == by_source.verdict == "accepted"
    assert by_path.program_sha256 == by_source.program_sha256
