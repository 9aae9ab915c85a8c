"""Compile stage: numba nopython, checked equal to the restricted run, within the step budget."""
import os
from pathlib import Path

import numpy as np
import pytest

from carverify.audit import audit_source
from carverify.candidate import Candidate
from carverify.config import AuditConfig
from carverify.stages import compile as compile_stage
from carverify.suite import load_suite
from proc_tree import children_of

SUITE = "minigrid-doorkey-5x5"
STAGES = ("parse", "policy", "restricted", "compile")
PROGRAMS = Path(__file__).resolve().parents[2] / "suites" / SUITE / "programs"

# Yellow (255, 255, 0) marks the key.  `r + g` of two uint8 scalars wraps to 254 in
# NumPy but is 510 in numba, so the two runs disagree wherever a key is drawn.
DRIFT = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def yellow_at(obs, y, x):
    r = obs[y, x, 0]
    g = obs[y, x, 1]
    return (r + g) // 2 > 200 and obs[y, x, 2] < 100


def has_key(obs):
    for y in range(4, obs.shape[0], TILE):
        for x in range(4, obs.shape[1], TILE):
            if yellow_at(obs, y, x):
                return False
    return True


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    g = obs[:, :, 1].astype(np.int32)
    return bool(((g == 255) & (obs[:, :, 0] == 0)).sum() == 0)
'''

# Three everyday Python idioms numba's nopython mode cannot compile.
UNCOMPILABLE = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def tiles_by_colour(obs):
    groups = {}
    for y in range(4, obs.shape[0], 8):
        for x in range(4, obs.shape[1], 8):
            colour = (int(obs[y, x, 0]), int(obs[y, x, 1]), int(obs[y, x, 2]))
            if colour not in groups:
                groups[colour] = []
            groups[colour].append((y, x))
    return groups


def has_key(obs):
    return (255, 255, 0) not in tiles_by_colour(obs)


def door_open(obs):
    axes = (0, obs.ndim - 2)
    return bool(obs.max(axis=axes)[1] > 150)


def at_goal(obs):
    return bool(obs[:, :, 1].max(axis=0, keepdims=True)[0, 0] > 200)
'''

# Idioms numba rejects as written and carverify rewrites for it (sandbox/numba_compat.py):
# axis reductions, reshape of a slice, generator expressions, a 2-D mask store.
REWRITTEN = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    yellow = (obs[:, :, 0] >= 230) & (obs[:, :, 1] >= 230) & (obs[:, :, 2] <= 120)
    return not yellow.any(axis=1).any() and all(int(yellow[y].sum()) < 4 for y in range(yellow.shape[0]))


def door_open(obs):
    g = obs[:, :, 1]
    per_tile = g.reshape(g.shape[0] // TILE, TILE, g.shape[1] // TILE, TILE).max(axis=3).min(axis=-2)
    return not any(v > 150 and v < 250 for v in per_tile.ravel()) or np.mean(obs, axis=2).max() > 0


def at_goal(obs):
    labels = np.zeros((obs.shape[0], obs.shape[1]), np.int32)
    labels[(obs[:, :, 1] >= 200) & (obs[:, :, 0] <= 120)] = 1
    labels[(obs[:, :, 0] >= 200) & (obs[:, :, 1] <= 120) & (obs[:, :, 2] <= 120)] = 2
    tiles = labels.reshape(obs.shape[0] // TILE, TILE, obs.shape[1] // TILE, TILE)
    return bool(((tiles == 1).any(axis=3).any(axis=1) & (tiles == 2).any(axis=3).any(axis=1)).any())
'''

# More of the same, as chat models write them: colour tuples against arrays and pixels,
# Python types as dtypes, tuple axes, np.isclose/np.linalg.norm/np.clip, int() of uint8.
REWRITTEN_MODEL = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

KEY = (255, 255, 76)
GOAL = (0, 255, 0)


def has_key(obs):
    h, w, _ = obs.shape
    near = np.linalg.norm(obs.astype(float) - KEY, axis=-1) < 40
    return int(near.sum()) < 4 and tuple(obs[h // 2, w // 2]) != KEY


def door_open(obs):
    for y in range(0, obs.shape[0], 8):
        for x in range(0, obs.shape[1], 8):
            avg = obs[y:y + 8, x:x + 8].mean(axis=(0, 1))
            if np.allclose(avg, (114, 114, 0), atol=20) or int(avg[2]) - int(obs[y, x, 0]) > 300:
                return False
    return True


def at_goal(obs):
    green = np.all(np.isclose(obs, GOAL, atol=80), axis=-1).sum(axis=(0, 1))
    return bool(np.clip(green / 64.0, 0.0, 1.0) < 0.9) and tuple(obs[0, 0]) not in (GOAL, KEY)
'''

# Correct, but sorts every channel value eight times per check: far over 25% of a step.
SLOW = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def median_sum(obs):
    v = obs.astype(np.int32).ravel()
    total = 0
    for k in range(8):
        s = np.sort(v + k)
        total += s[s.size // 2]
    return total


def has_key(obs):
    return median_sum(obs) > 10000


def door_open(obs):
    return median_sum(obs) > 20000


def at_goal(obs):
    return median_sum(obs) > 30000
'''


# Counts up until the uint8 wraps to zero: at most 255 rounds in NumPy, but numba's
# int64 counter never wraps, so the compiled check runs until the sandbox kills it.
RUNAWAY = '''
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    # Two NumPy uint8 scalars: NumPy wraps at 256 and the loop ends; numba widens to int64.
    v = obs[0, 0, 0] | np.uint8(1)
    n = 0
    while v != 0:
        v = v + np.uint8(1)
        n = (n * 31 + int(obs[0, n % 8, 1])) % 1000003
    return n >= 0


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
'''


def audit(source, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(children_of(os.getpid()))
    report = audit_source(source, SUITE, stages=STAGES, config=AuditConfig(artifacts_dir=str(tmp_path)))
    assert set(children_of(os.getpid())) <= before, "a sandbox child outlived its audit"
    assert os.listdir(tmp_path) == [], "the audit wrote into the working directory"
    return report


def _codes(stage):
    return [f.code for f in stage.findings]


def test_numba_widens_uint8_scalars_that_numpy_wraps():
    # The fact the drift test rests on: if numba ever wraps too, DRIFT stops drifting.
    import numba

    pixel = np.array([255, 255], np.uint8)
    with np.errstate(over="ignore"):
        assert pixel[0] + pixel[1] == 254
    assert numba.njit(lambda p: p[0] + p[1])(pixel) == 510


def test_correct_vectorized_program_passes(tmp_path, monkeypatch):
    report = audit((PROGRAMS / "tile_probes.py").read_text(), tmp_path, monkeypatch)
    stage = report.stage("compile")
    assert report.verdict == "accepted", [f.render() for f in report.findings]
    assert stage.status == "passed" and stage.findings == []
    m = stage.metrics
    assert m["frames_compared"] == report.stage("restricted").metrics["frames"] + compile_stage.N_RANDOM
    assert m["compile_seconds"] > 0 and m["compiled_step_us"] > 0 and m["env_step_us"] > 0
    assert m["step_fraction"] == pytest.approx(m["compiled_step_us"] / m["env_step_us"])
    assert m["step_fraction"] <= load_suite(SUITE).budget["compiled_step_fraction"]
    assert m["speedup"] > 1


def test_uint8_drift_is_cv602(tmp_path, monkeypatch):
    report = audit(DRIFT, tmp_path, monkeypatch)
    assert report.stage("restricted").status == "passed"   # the interpreted run alone looks fine
    stage = report.stage("compile")
    assert stage.status == "failed"
    assert {f.code for f in stage.findings} == {"CV602"}
    assert {f.subtask for f in stage.findings} == {"has_key"}
    f = stage.findings[0]
    assert f.message.startswith("has_key: compiled result differs from the interpreted run on ")
    assert "(first: " in f.message and "compiled False, interpreted True" in f.message
    assert "uint8" in f.hint and "astype(np.int32)" in f.hint
    assert f.line == DRIFT.splitlines().index("def has_key(obs):") + 1
    assert f.data["differing"] > 0 and f.data["compared"] > 0


def test_uncompilable_idioms_are_cv601_with_readable_messages(tmp_path, monkeypatch):
    report = audit(UNCOMPILABLE, tmp_path, monkeypatch)
    assert report.stage("restricted").status == "passed"   # all three are fine Python
    stage = report.stage("compile")
    assert stage.status == "failed" and set(_codes(stage)) == {"CV601"}
    by = {f.subtask: f for f in stage.findings}
    assert set(by) == {"has_key", "door_open", "at_goal"}
    lines = UNCOMPILABLE.splitlines()
    for f in by.values():
        assert "\n" not in f.message and len(f.message) < 300 and "During:" not in f.message
        assert f.hint
    # The dict of lists fails inside the helper, at the line that stores a list.
    assert "(in tiles_by_colour)" in by["has_key"].message
    assert "as value is forbidden" in by["has_key"].message
    assert by["has_key"].line == lines.index("                groups[colour] = []") + 1
    assert "numpy arrays or tuples" in by["has_key"].hint
    # A tuple axis computed at run time cannot be specialised; the message names what was written.
    assert ".max(axis=...)" in by["door_open"].message and "__cv" not in by["door_open"].message
    assert "got an unexpected keyword argument 'axis'" in by["at_goal"].message
    assert "one integer axis" in by["at_goal"].hint and "keepdims" in by["at_goal"].hint


@pytest.mark.parametrize("source", [REWRITTEN, REWRITTEN_MODEL], ids=["numpy", "model"])
def test_idioms_numba_rejects_as_written_compile_and_match_the_interpreted_run(source, tmp_path, monkeypatch):
    report = audit(source, tmp_path, monkeypatch)
    assert report.stage("restricted").status == "passed"
    stage = report.stage("compile")
    assert stage.status == "passed", [f.render() for f in stage.findings]
    assert stage.metrics["frames_compared"] > compile_stage.N_RANDOM   # suite frames and random ones, all equal


def test_over_budget_program_is_cv603(tmp_path, monkeypatch):
    report = audit(SLOW, tmp_path, monkeypatch)
    stage = report.stage("compile")
    assert stage.status == "failed" and _codes(stage) == ["CV603"]
    budget = load_suite(SUITE).budget["compiled_step_fraction"]
    assert stage.metrics["step_fraction"] > budget
    f = stage.findings[0]
    assert "µs per step" in f.message and "the budget is 50%" in f.message
    assert f.data["compiled_step_us"] == pytest.approx(stage.metrics["compiled_step_us"])


def test_an_over_budget_timing_is_measured_again_before_it_becomes_cv603(tmp_path, monkeypatch):
    """A first measurement taken as if the machine were loaded (the env step looks 100x cheaper than it is)
    does not reject a fast program: it is timed again next to a fresh env step."""
    compile_stage.clear_cache()
    real = compile_stage.env_step_seconds(load_suite(SUITE))
    monkeypatch.setattr(compile_stage, "env_step_seconds", lambda suite: real / 100)
    fresh = []
    measure = compile_stage.measure_env_step
    monkeypatch.setattr(compile_stage, "measure_env_step", lambda suite, steps: fresh.append(steps) or measure(suite, steps))
    report = audit((PROGRAMS / "tile_probes.py").read_text(), tmp_path, monkeypatch)
    stage = report.stage("compile")
    assert fresh == [compile_stage.ENV_STEPS // 2]          # one more round was enough
    assert stage.status == "passed" and stage.findings == [], [f.render() for f in stage.findings]
    assert stage.metrics["env_step_us"] > 1e6 * real / 10  # the fresh measurement is the one reported


def test_compiled_run_that_never_ends_is_cv602(tmp_path, monkeypatch):
    report = audit(RUNAWAY, tmp_path, monkeypatch)
    assert report.stage("restricted").status == "passed"
    stage = report.stage("compile")
    assert stage.status == "failed" and _codes(stage) == ["CV602"]
    f = stage.findings[0]
    assert f.subtask == "has_key" and f.message.startswith("compiled run: timed out while running has_key(obs) on frame 0 (limit ")
    assert "while running has_key(obs) on frame 0" in f.message
    assert f.data["child_code"] == "CV302"
    key = (Candidate(RUNAWAY).sha256, SUITE, AuditConfig().max_suite_frames)
    assert key not in compile_stage._CACHE   # a timeout is measured afresh next time


def test_stage_runs_alone_and_caches_by_program_hash():
    # Without earlier stages: it runs the policy itself and asks the restricted child for suite values.
    compile_stage.clear_cache()
    suite = load_suite(SUITE)
    first = Candidate(DRIFT)
    try:
        result = compile_stage.check_compile(first, suite, config=AuditConfig())
    finally:
        first.close()
    assert result.status == "failed" and result.metrics["cache_hit"] == 0.0
    second = Candidate(DRIFT, path="elsewhere.py")
    try:
        again = compile_stage.check_compile(second, suite, config=AuditConfig())
    finally:
        second.close()
    assert again.metrics["cache_hit"] == 1.0 and again.seconds < 0.5
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in result.findings]
    assert second._box is None   # no sandbox child was started for the cached result
    again.findings.clear()       # callers cannot corrupt the cache
    third = Candidate(DRIFT)
    assert compile_stage.check_compile(third, suite, config=AuditConfig()).findings
    third.close()


def test_policy_failure_skips_the_stage():
    candidate = Candidate("import os\nSUBTASKS = ('a',)\ndef a(obs):\n    return True\n")
    result = compile_stage.check_compile(candidate, load_suite(SUITE), config=AuditConfig())
    assert result.status == "skipped" and candidate._box is None


def test_random_observations_are_seeded_and_varied():
    frames = np.random.default_rng(1).integers(0, 256, (5, 40, 40, 3), dtype=np.uint8)
    a = compile_stage.random_observations(frames, 8, 7, 64)
    b = compile_stage.random_observations(frames, 8, 7, 64)
    assert a.shape == (64, 40, 40, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert not a[0].any() and (a[1] == 255).all()
    distinct = [len(np.unique(f.reshape(-1, 3), axis=0)) for f in a]
    assert min(distinct) == 1 and max(distinct) > 1000 and any(2 <= d <= 10 for d in distinct)


def test_a_compiled_crash_gets_a_crash_hint_and_a_timeout_a_loop_hint():
    from sandbox.issue import Issue
    from sandbox.limits import Limits

    crash = compile_stage._compiled_death(Issue("CV306", "sandbox child was killed by SIGSEGV while running "
                                                "has_key(obs) on frame 3: Fatal Python error: Segmentation fault",
                                                subtask="has_key"), Limits())
    assert crash.code == "CV602" and crash.hint == compile_stage.CRASH_HINT and crash.data == {"child_code": "CV306"}
    assert "index" in crash.hint and "uint8" not in crash.hint
    stuck = compile_stage._compiled_death(Issue("CV306", "sandbox child was killed by SIGALRM while running "
                                                "has_key(obs) on frame 0", subtask="has_key"), Limits())
    assert stuck.data == {"child_code": "CV302"} and stuck.hint.startswith("compiled code has no interpreter")


def test_per_call_cost_drops_calls_the_scheduler_interrupted():
    """Each pass has one call a busy machine stretched 100-fold, on a different frame each time:
    each frame's best pass is an honest one, while the best pass's mean would be 26x too high."""
    from sandbox.runner import CallBatch

    def batch(times):
        return CallBatch({"f": [True] * 4}, {"f": None}, {"f": None}, {"f": 0}, {"f": sum(times)},
                         {"f": max(times)}, None, 0.0, {"f": times})
    passes = [batch([1e-6, 2e-6, 1e-6, 100e-6]), batch([1e-6, 200e-6, 1e-6, 1e-6]), batch([100e-6, 2e-6, 1e-6, 1e-6])]
    assert compile_stage._per_call("f", passes) == pytest.approx(1.25e-6)
    # A batch from before per-call times were sent: the best pass's mean, as it was.
    old = [b._replace(times={}) for b in passes]
    assert compile_stage._per_call("f", old) == pytest.approx(min(sum(b.seconds.values()) / 4 for b in passes))
