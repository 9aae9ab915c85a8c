"""compile_accepted: an audited program's checks compiled for training, refused once changed."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from carverify.compiled import compile_accepted
from carverify.episodes import suite_frames
from carverify.errors import UsageError
from carverify.suite import load_suite
from sandbox import Limits, Sandbox

SUITE = "minigrid-doorkey-5x5"
PROGRAMS = Path(__file__).resolve().parents[1] / "suites" / SUITE / "programs"


def sha(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


@pytest.mark.parametrize("name", ["tile_probes.py", "shape_loops.py"])  # vectorized and loop style
def test_results_equal_the_restricted_run(name):
    source = (PROGRAMS / name).read_text()
    frames = suite_frames(load_suite(SUITE))
    checks = compile_accepted(source, sha(source))
    assert list(checks) == ["has_key", "door_open", "at_goal"]
    with Sandbox(source, Limits()) as box:
        assert box.load().ok
        restricted = box.call(list(checks), frames).values
    for subtask, check in checks.items():
        assert [check(frame) for frame in frames] == restricted[subtask], subtask
    assert all(type(check(frames[0])) is bool for check in checks.values())


def test_changed_program_is_refused():
    source = (PROGRAMS / "tile_probes.py").read_text()
    audited = sha(source)
    changed = source.replace("230", "200")
    with pytest.raises(UsageError, match="program changed since its audit"):
        compile_accepted(changed, audited)


def test_policy_violation_is_refused_even_with_a_matching_hash():
    source = "import os\nSUBTASKS = ('a',)\ndef a(obs):\n    return True\n"
    with pytest.raises(UsageError, match="policy"):
        compile_accepted(source, sha(source))


def test_cached_by_hash_and_input_untouched():
    source = (PROGRAMS / "tile_probes.py").read_text()
    first = compile_accepted(source, sha(source))
    again = compile_accepted(source, sha(source).upper())
    assert all(first[k] is again[k] for k in first)
    frame = np.zeros((40, 40, 3), np.uint8)
    frame[4, 4] = (255, 255, 0)
    before = frame.copy()
    assert first["has_key"](frame) is False
    assert frame.flags.writeable and np.array_equal(frame, before)
    # A non-contiguous observation is copied, not rejected.
    assert first["has_key"](np.asfortranarray(frame)) is False


def test_the_reward_worker_answers_like_the_compiled_checks():
    """Training's path (a forked reward worker, one combined call) computes what the audit's compiled checks do."""
    from carverify.deploy.guard import Guard

    source = (PROGRAMS / "shape_loops.py").read_text()
    frames = suite_frames(load_suite(SUITE))
    checks = compile_accepted(source, sha(source))
    guard = Guard(source, sha(source), frames.dtype, frames.shape[1:], deadline=0.05)
    try:
        assert guard.subtasks == tuple(checks) and not guard.has_progress
        for frame in frames:
            result = guard.call(frame)
            assert result.fault is None and result.holds == tuple(check(frame) for check in checks.values())
    finally:
        guard.close()
    assert guard.zygote_pid is None
