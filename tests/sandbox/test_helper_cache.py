"""numba's helpers cached on disk: written only by the trusted warm-up, read by the sandbox child.

Real numba, real children: the first audit of a program that calls helpers compiles them
in its child and reports misses; the warm-up started by the parent writes the entries;
the next child loads them (hits, no misses, less compiler CPU) and computes the same values.
"""
import json

import numpy as np
import pytest

from sandbox import Limits, Sandbox, helper_cache, runner

# .max(axis=k), .any(axis=k) and .reshape of a slice: rewritten to numba_helpers calls.
PROGRAM = '''
import numpy as np

SUBTASKS = ("bright", "stripes")


def bright(obs):
    m = obs.max(axis=2)
    return bool((m > 200).any(axis=0).any())


def stripes(obs):
    rows = obs[::2, :, 0].reshape(-1)
    return bool(rows.mean() > 10.0)
'''
FRAMES = np.random.default_rng(0).integers(0, 256, (6, 16, 16, 3), dtype=np.uint8)
FRAMES[0] = 0


def _audit(directory):
    runner.use_helper_cache(str(directory))
    try:
        with Sandbox(PROGRAM, Limits(), mode="native") as box:
            assert box.load().ok
            compiled = box.compile(["bright", "stripes"], FRAMES)
            written_by_child = sorted(p.name for p in directory.rglob("*.nbc"))
            batch = box.call(["bright", "stripes"], FRAMES)
    finally:
        runner.use_helper_cache(None)
    assert compiled.dead is None and not any(compiled.issues.values()), compiled
    assert batch.dead is None
    return compiled, batch, written_by_child


@pytest.mark.slow
def test_helpers_compile_once_then_load_from_disk(tmp_path):
    cache = tmp_path / "numba-helpers"
    cold, cold_values, written = _audit(cache)
    assert written == []                                   # the program's child wrote nothing
    assert cold.helpers["hits"] == 0 and len(cold.helpers["misses"]) >= 3
    names = {m["helper"] for m in cold.helpers["misses"]}
    assert {"__cv_max_axis", "__cv_any_axis"} <= names
    entries = list(cache.rglob("*.nbc"))                   # the warm-up wrote them (Sandbox.close waits)
    assert len(entries) >= len(cold.helpers["misses"])

    warm, warm_values, _ = _audit(cache)
    assert warm.helpers["misses"] == [] and warm.helpers["hits"] >= len(cold.helpers["misses"])
    assert warm_values.values == cold_values.values        # the cached code computes the same
    assert warm.cpu_seconds < cold.cpu_seconds


@pytest.mark.long  # 76 s in CI; the cache-identity test above keeps the cache covered there
def test_a_damaged_entry_is_a_miss_not_a_failure(tmp_path):
    cache = tmp_path / "numba-helpers"
    _audit(cache)
    for entry in cache.rglob("*.nbc"):
        entry.write_bytes(b"not a pickle")
    again, batch, _ = _audit(cache)
    assert again.helpers["hits"] == 0 and again.helpers["misses"]
    assert batch.values["bright"][0] is False and batch.values["bright"][1] is True


def test_types_travel_as_json_and_nothing_else_does():
    from numba.core import types

    for t in (types.Array(types.uint8, 3, "A", readonly=True), types.Array(types.boolean, 2, "C"),
              types.int64, types.float64, types.boolean, types.IntegerLiteral(2), types.BooleanLiteral(True),
              types.BaseTuple.from_types([types.IntegerLiteral(0), types.IntegerLiteral(1)]),
              types.UniTuple(types.int64, 3)):
        data = helper_cache.encode(t)
        assert data is not None, t
        assert helper_cache.decode(json.loads(json.dumps(data))) == t
    # Outside the grammar: the warm-up refuses what the child could not have sent honestly.
    assert helper_cache.encode(types.unicode_type) is None
    assert helper_cache.encode(types.Array(types.uint8, 9, "C")) is None
    for bad in (["array", "object", 1, "C", False], ["array", "uint8", 99, "C", False],
                ["lit_int", 10 ** 12], ["tuple", [["scalar", "int64"]] * 50], ["exec", "import os"], "int64"):
        with pytest.raises(ValueError):
            helper_cache.decode(bad)


def test_an_implementation_is_identified_by_what_decides_its_code():
    ns_a, ns_b = {"np": np, "OUT": np.dtype(np.bool_)}, {"np": np, "OUT": np.dtype(np.float64)}
    source = "def impl(a, axis):\n    return np.empty(3, OUT)\n"
    exec(source, ns_a)
    exec(source, ns_b)
    again = {"np": np, "OUT": np.dtype(np.bool_)}
    exec(source, again)
    # Same source, same globals: same entry across processes; another dtype: another entry.
    assert helper_cache.identity(ns_a["impl"]) == helper_cache.identity(again["impl"])
    assert helper_cache.identity(ns_a["impl"]) != helper_cache.identity(ns_b["impl"])
    # A global without a stable description is never cached.
    odd = {"np": np, "OUT": object()}
    exec(source, odd)
    assert helper_cache.identity(odd["impl"]) is None


# A helper's tuple hides its items' kinds from the rewrite, so these go through __cv_sub_pp / __cv_add_pp.
PAIR = 'import numpy as np\n\n\ndef pair(obs):\n    return float(obs[0, 0, 0]), 1.5\n\n\n'
SUB = PAIR + 'SUBTASKS = ("s",)\n\n\ndef s(obs):\n    x, y = pair(obs)\n    return x - y > 100.0\n'
ADD = PAIR + 'SUBTASKS = ("a",)\n\n\ndef a(obs):\n    x, y = pair(obs)\n    return x + y > 100.0\n'
BOTH = PAIR + 'SUBTASKS = ("both",)\n\n\ndef both(obs):\n    x, y = pair(obs)\n    return (x + y) - (x - y)\n'


def _values(directory, program, fn):
    runner.use_helper_cache(str(directory))
    try:
        with Sandbox(program, Limits(), mode="native") as box:
            assert box.load().ok
            compiled = box.compile([fn], FRAMES)
            batch = box.call([fn], FRAMES, returns={fn: "float"} if fn == "both" else None)
    finally:
        runner.use_helper_cache(None)
    assert compiled.dead is None and batch.dead is None and not any(compiled.issues.values()), compiled
    return compiled.helpers, batch.values[fn]


@pytest.mark.slow
def test_entries_written_by_different_warm_ups_keep_their_own_code(tmp_path):
    """Each warm-up process compiles one helper, numbered by numba's per-process counter from the
    same start: the cached `a - b` and `a + b` must stay distinct symbols when a child loads both
    (they once linked to one of them: (x + 1.5) - (x - 1.5) came out 193.0 on a frame, not 3.0)."""
    cache = tmp_path / "numba-helpers"
    _values(cache, SUB, "s")
    _values(cache, ADD, "a")
    helpers, values = _values(cache, BOTH, "both")
    assert helpers["hits"] >= 2, helpers
    assert values == [3.0] * len(FRAMES)
