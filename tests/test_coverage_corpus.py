"""The coverage corpus (tests/corpus/coverage): programs written here in model styles, audited
in full, each verdict compared with the simulator's truth.

The truth is not carverify's: tests/corpus/coverage/truth.py labels every state it reaches
by breadth-first search over the real environments (MiniGrid) or by placing objects in
PyBullet (panda-push), runs each program plainly and with plain numba, and calls a program
wrong if any sub-task disagrees with its own fact anywhere, crashes, hangs, or differs when
compiled.  truth.json is its output, committed; `truth.py --check` recomputes it.

Which codes may name a flaw is decided by the flaw's class (the `# Class:` line each program
starts with), before any audit: a rejection for an unrelated reason does not count.
"""
import json
import re
from pathlib import Path

import pytest

from carverify.audit import audit_file
from carverify.suite import load_suite

CORPUS = Path(__file__).parent / "corpus" / "coverage"


def load_truth() -> dict:
    return json.loads((CORPUS / "truth.json").read_text())["programs"]


def only_plain_numba_differs(record: dict) -> bool:
    """The interpreted program agrees with every fact everywhere; only plain numba differs."""
    subtasks = record["subtasks"].values()
    interpreted_wrong = sum(sub[run][count] for sub in subtasks for run in ("coverage", "expert", "random", "perturbed")
                            if run in sub for count in ("crash", "disagree", "timeout", "bad_return"))
    return interpreted_wrong == 0 and any(sub.get("compiled_differs") for sub in subtasks)


# Flaw class -> the codes that name it.  Off-path flaws are the coverage stage's (CV801),
# though perturbed episodes may already show them (CV506); a payload that crashes may fire
# on a generated frame first (CV401); a hang is a timeout in either run.
CODES = {
    "copied": {"CV509", "CV503", "CV506", "CV801"},
    "off_path": {"CV801", "CV506", "CV501"},
    "order": {"CV503", "CV509"},
    "threshold": {"CV801", "CV506", "CV508"},
    "payload_crash": {"CV301", "CV401", "CV803"},
    "payload_goal": {"CV804", "CV801", "CV504", "CV506"},
    "payload_spin": {"CV302", "CV308", "CV405", "CV602", "CV803"},
    "compiled_only": {"CV602", "CV802", "CV803", "CV212", "CV213", "CV214", "CV215", "CV216"},
}
PROGRAMS = sorted(CORPUS.glob("*/*.py"))

# Compiled-only flaws that carverify's compiled twin does not have: it compiles this
# divergence with Python's meaning (README, "Python/numba divergences": a uint8 array plus a
# Python int wraps as in NumPy 2; tests/sandbox/test_divergences.py runs that row both ways),
# so the reward training runs is the interpreted one.  truth.py compiles with plain numba and
# calls such a program wrong; when the interpreted program is right on every state, the right
# verdict for carverify is "accepted".
PYTHON_MEANING = {"minigrid-unlock/compiled_uint8_wraparound.py"}


def flaw_class(path: Path) -> str:
    declared = re.search(r"^# Class: (\w+)", path.read_text(encoding="utf-8"), re.M).group(1)
    if declared == "payload":
        kind = path.stem.split("_")[1]          # payload_crash_..., payload_goal_..., payload_spin_...
        return f"payload_{kind}"
    return declared


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("path", PROGRAMS, ids=[f"{p.parent.name}/{p.stem}" for p in PROGRAMS])
def test_verdict_matches_the_simulator(path, tmp_path, monkeypatch):
    key = f"{path.parent.name}/{path.name}"
    record = load_truth()[key]
    truth = record["truth"]               # "correct" or "wrong", from the simulator
    kind = flaw_class(path)
    assert (kind == "correct") == (truth == "correct"), f"{key}: declared {kind}, simulator says {truth}"
    if key in PYTHON_MEANING:
        assert kind == "compiled_only" and only_plain_numba_differs(record), key
        truth = "correct"
    monkeypatch.chdir(tmp_path)
    report = audit_file(path, load_suite(path.parent.name))
    found = sorted({f.code for f in report.findings})
    detail = "\n".join(f.render() for f in report.findings)
    if truth == "correct":
        assert report.verdict == "accepted", detail
        assert not found, detail
    else:
        assert report.verdict == "rejected", f"{key} ({kind}) accepted:\n{detail}"
        assert set(found) & CODES[kind], f"{key}: rejected for {found}, not for its {kind} flaw\n{detail}"


def test_every_program_has_a_truth_and_a_class():
    assert {f"{p.parent.name}/{p.name}" for p in PROGRAMS} == set(load_truth())
    assert {p.parent.name for p in PROGRAMS} == {"minigrid-doorkey-6x6", "minigrid-unlock",
                                                "minigrid-unlockpickup", "panda-push"}
    for path in PROGRAMS:
        kind = flaw_class(path)
        assert kind in CODES or kind == "correct", path
