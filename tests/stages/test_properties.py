"""Properties stage: generated observations find what real frames hide."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from carverify.audit import audit_source
from carverify.config import AuditConfig
from carverify.stages.properties import PropertyFailure, _checker

STAGES = ("parse", "policy", "restricted", "properties")
SUITE = "minigrid-doorkey-5x5"
# Real DoorKey frames always show the red agent; these programs misbehave only without it.
TEMPLATE = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def agent(obs):
    red = (obs[:, :, 0] >= 200) & (obs[:, :, 1] < 120) & (obs[:, :, 2] < 120)
    return red


def has_key(obs):
{body}


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
'''


def program(body):
    return TEMPLATE.format(body=textwrap.indent(textwrap.dedent(body), "    "))


def audit(body, tmp_path):
    return audit_source(program(body), SUITE, stages=STAGES, config=AuditConfig(artifacts_dir=str(tmp_path)))


def test_correct_program_passes(tmp_path):
    report = audit("return not bool(agent(obs).all())", tmp_path)
    assert report.verdict == "accepted", [f.render() for f in report.findings]
    assert report.stage("properties").metrics["calls"] > 0


def test_crash_off_distribution_is_not_total(tmp_path):
    body = "ys, xs = np.nonzero(agent(obs))\nreturn bool(obs[ys[0], xs[0], 1] > 300)"
    report = audit(body, tmp_path)
    assert report.stage("restricted").status == "passed"  # fine on every real frame
    (f,) = report.stage("properties").findings
    assert f.code == "CV401" and f.subtask == "has_key"
    assert f.message.startswith("has_key is not total: has_key(obs) raised IndexError")
    saved = np.load(f.data["counterexample"])
    assert saved.shape == (40, 40, 3) and not ((saved[:, :, 0] >= 200) & (saved[:, :, 1] < 120) & (saved[:, :, 2] < 120)).any()
    assert f.hint == f"reproduce: {f.data['reproduce']}"


def test_reproduction_command_reproduces(tmp_path):
    body = "ys, xs = np.nonzero(agent(obs))\nreturn bool(obs[ys[0], xs[0], 1] > 300)"
    source = program(body)
    path = tmp_path / "program.py"
    path.write_text(source)
    report = audit_source(source, SUITE, path=str(path), stages=STAGES,
                          config=AuditConfig(artifacts_dir=str(tmp_path)))
    (f,) = report.findings
    argv = f.data["reproduce"].split()
    out = subprocess.run([sys.executable, "-m", "carverify.cli", *argv[1:]], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1 and "CV301" in out.stdout and "IndexError" in out.stdout, out


def test_non_bool_off_distribution(tmp_path):
    report = audit("if not agent(obs).any():\n    return None\nreturn True", tmp_path)
    (f,) = report.stage("properties").findings
    assert f.code == "CV402"


def test_impure_off_distribution(tmp_path):
    report = audit("if not agent(obs).any():\n    obs[0, 0, 0] = 1\nreturn False", tmp_path)
    (f,) = report.stage("properties").findings
    assert f.code == "CV404"


def test_slow_off_distribution(tmp_path):
    report = audit("if not agent(obs).any():\n    while True:\n        pass\nreturn False", tmp_path)
    (f,) = report.stage("properties").findings
    assert f.code == "CV405"


class _FlipBox:
    """Stands in for the sandbox to exercise the determinism comparison itself."""

    def call(self, fns, frames, stop_on_error=False, **kwargs):
        from sandbox.runner import CallBatch
        values = {fn: [True, False] for fn in fns}
        none = {fn: None for fn in fns}
        return CallBatch(values, none, none, {fn: 0 for fn in fns}, {}, {}, None, 0.0)


def test_determinism_compares_two_runs():
    check = _checker(_FlipBox(), ["has_key"], {"has_key": 3}, {})
    with pytest.raises(PropertyFailure) as info:
        check((np.zeros((40, 40, 3), np.uint8), "zeros"))
    assert info.value.code == "CV403" and info.value.line == 3


class _SlowBox:
    def call(self, fns, frames, stop_on_error=False, **kwargs):
        from sandbox.runner import CallBatch
        none = {fn: None for fn in fns}
        return CallBatch({fn: [True, True] for fn in fns}, none, none, {fn: 0 for fn in fns}, {},
                         {fn: 0.4 for fn in fns}, None, 0.8)


def test_per_call_budget():
    check = _checker(_SlowBox(), ["has_key"], {"has_key": 3}, {}, budget=0.25)
    with pytest.raises(PropertyFailure) as info:
        check((np.zeros((40, 40, 3), np.uint8), "zeros"))
    assert info.value.code == "CV405"
    assert info.value.message == "took 400 ms on one observation (budget 250 ms per interpreted call)"


# r + b of two uint8 pixels: NumPy wraps the sum (never over 255), numba widens it.  No tile of
# a real DoorKey frame has r + b over 300, so suite frames never show the difference; a purple
# (112, 39, 195) tile or random noise does, and the twin must then answer what Python answers.
COMPILED_ONLY = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    for y in range(4, obs.shape[0], 8):
        for x in range(4, obs.shape[1], 8):
            if obs[y, x, 0] + obs[y, x, 2] > 300:
                return False
    return not bool(((obs[4::8, 4::8, 0] > 200) & (obs[4::8, 4::8, 1] > 200)).any())


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
'''


def test_generated_observations_go_to_the_compiled_twin_too(tmp_path):
    report = audit_source(COMPILED_ONLY, SUITE, stages=STAGES, config=AuditConfig(artifacts_dir=str(tmp_path)))
    assert report.stage("restricted").status == "passed"
    stage = report.stage("properties")
    (f,) = stage.findings
    assert f.code == "CV602" and f.subtask == "has_key", f.render()
    assert f.message.startswith("has_key differs when compiled (properties stage): compiled False, interpreted True")
    saved = np.load(f.data["counterexample"])
    r, b = saved[4::8, 4::8, 0].astype(int), saved[4::8, 4::8, 2].astype(int)
    assert ((r + b) > 300).any()   # the shrunk observation shows the cause
    assert stage.metrics["compiled_twin"] == 1.0 and stage.metrics["compiled_calls"] > 0


def test_a_correct_program_agrees_with_its_compiled_twin(tmp_path):
    report = audit("return not bool(agent(obs).all())", tmp_path)
    stage = report.stage("properties")
    assert stage.status == "passed", [f.render() for f in stage.findings]
    assert stage.metrics["compiled_twin"] == 1.0
    assert stage.metrics["compiled_calls"] >= len(("has_key", "door_open", "at_goal")) * 10


def test_counterexamples_go_to_the_cache_not_the_working_directory(tmp_path, monkeypatch):
    """Without --artifacts-dir a counterexample lands in carverify's cache folder ($CARVERIFY_CACHE),
    so an audit run by a test in the checkout leaves nothing there."""
    from carverify.stages.properties import _save_counterexample

    class Candidate:
        sha256 = "ab" * 32

    failure = PropertyFailure("CV401", "has_key", "raised", None)
    frame = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path / "cache"))
    path = _save_counterexample(frame, Candidate(), failure, AuditConfig())
    assert path.parent == tmp_path / "cache" / "counterexamples"
    assert not (tmp_path / ".carverify-cache").exists()
    np.testing.assert_array_equal(np.load(path), frame)


# The 5x5 reference tile_probes.py with COMPILED_ONLY's uint8 clause in has_key: right on every
# real frame (so the trajectories stage passes), different when compiled on a purple tile.
TWO_FACED_REFERENCE = (Path(__file__).resolve().parents[2] / "suites/minigrid-doorkey-5x5/programs/tile_probes.py") \
    .read_text().replace('''def has_key(obs):
''', '''def has_key(obs):
    for y in range(4, obs.shape[0], 8):
        for x in range(4, obs.shape[1], 8):
            if obs[y, x, 0] + obs[y, x, 2] > 300:
                return False
''')


def test_the_compiled_comparison_runs_after_trajectories_and_still_rejects(tmp_path):
    """The twin's answers are compared once the trajectories stage has passed (audit.py defers
    them so a program trajectories rejects is not held for numba); a disagreement still fails
    the properties stage, and nothing after trajectories runs."""
    assert "obs[y, x, 0] + obs[y, x, 2]" in TWO_FACED_REFERENCE
    report = audit_source(TWO_FACED_REFERENCE, SUITE, stages=STAGES + ("trajectories", "compile"),
                          config=AuditConfig(artifacts_dir=str(tmp_path)))
    statuses = {s.stage: s.status for s in report.stages}
    assert statuses == {"parse": "passed", "policy": "passed", "restricted": "passed", "properties": "failed",
                        "trajectories": "passed", "compile": "skipped"}, [f.render() for f in report.findings]
    (f,) = report.stage("properties").findings
    assert f.code == "CV602" and f.subtask == "has_key" and report.verdict == "rejected"


def test_a_program_trajectories_reject_is_not_held_for_the_twin(tmp_path):
    always_true = Path(__file__).resolve().parents[2] / "suites/minigrid-doorkey-5x5/programs/always_true.py"
    report = audit_source(always_true.read_text(), SUITE, stages=STAGES + ("trajectories", "compile"),
                          config=AuditConfig(artifacts_dir=str(tmp_path)))
    assert report.stage("trajectories").status == "failed" and report.stage("compile").status == "skipped"
    properties = report.stage("properties")
    assert properties.status == "passed" and properties.metrics["compiled_calls"] == 0
    assert properties.skipped_checks == {"compiled twin": "not compared: a later stage rejected the program first"}


def test_a_disagreement_found_in_the_batch_is_reported_whatever_the_shrink_rerun_meets(tmp_path):
    """The twin's batch finds COMPILED_ONLY's disagreement after trajectories has run, on the
    audit's restricted child; the rerun that shrinks it uses that child again.  When the child
    has no CPU left by then (the kernel's SIGXCPU at RLIMIT_CPU, sent here directly), the rerun
    meets only that: the finding must stay the disagreement (CV602), not "too slow" (CV405)."""
    import os
    import signal

    from carverify.candidate import Candidate
    from carverify.stages.properties import check_properties

    candidate = Candidate(COMPILED_ONLY, "program.py")
    deferred = []
    candidate.defer = lambda stage, finish, abandoned: deferred.append(finish)
    config = AuditConfig(artifacts_dir=str(tmp_path), hypothesis_examples=20)
    try:
        from carverify.suite import load_suite

        interpreted = check_properties(candidate, load_suite(SUITE), config=config)
        assert interpreted.status == "passed" and len(deferred) == 1   # interpreted, it is right
        os.kill(candidate._box._child.proc.pid, signal.SIGXCPU)
        candidate._box._child.proc.wait(timeout=10)
        result = deferred[0]()
    finally:
        candidate.close()
    (f,) = result.findings
    assert result.status == "failed" and f.code == "CV602" and f.subtask == "has_key", f.render()
    saved = np.load(f.data["counterexample"])
    r, b = saved[4::8, 4::8, 0].astype(int), saved[4::8, 4::8, 2].astype(int)
    assert ((r + b) > 300).any()   # the reported observation is one the twin answers differently on


def test_an_audit_ending_at_properties_says_when_the_twin_was_not_compared(tmp_path):
    """numba cannot compile UNCOMPILABLE (the compile stage's CV601): with the stages ending at
    properties the audit is accepted, so the report must say the compiled comparison was not made."""
    from test_compile import UNCOMPILABLE   # three idioms numba refuses (tests/stages/test_compile.py)

    report = audit_source(UNCOMPILABLE, SUITE, stages=STAGES,
                          config=AuditConfig(artifacts_dir=str(tmp_path), hypothesis_examples=20))
    stage = report.stage("properties")
    assert stage.status == "passed" and stage.metrics["compiled_twin"] == 0.0, [f.render() for f in report.findings]
    assert set(stage.skipped_checks) == {"compiled twin"} and "CV601" in stage.skipped_checks["compiled twin"]
