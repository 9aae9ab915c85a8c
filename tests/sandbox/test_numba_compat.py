"""sandbox/numba_compat.py: the rewritten idioms compile under numba and keep NumPy's semantics.

Each case runs the same source twice: as plain Python with NumPy (trusted test code, the
reference) and rewritten + jitted as the compile stage does it.
"""
from __future__ import annotations

import ast
import itertools

import numba
import numpy as np
import pytest

from sandbox import numba_compat
from sandbox.native import JIT_OPTIONS

RNG = np.random.default_rng(7)


def _jitted(source: str, name: str = "f"):
    tree = ast.parse(source)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    namespace = {"np": np, **numba_compat.HELPERS}
    exec(compile(numba_compat.rewrite(tree, {"np"}, functions), "<test>", "exec"), namespace)
    for fn in functions:
        namespace[fn] = numba.njit(**JIT_OPTIONS)(namespace[fn])
    return namespace[name]


def _python(source: str, name: str = "f"):
    namespace = {"np": np}
    exec(compile(source, "<test>", "exec"), namespace)
    return namespace[name]


def _arrays():
    # Every signature is one numba compile (~0.3 s): ranks 1, 3 and 4, the dtypes frames and masks have.
    for shape in ((7,), (3, 4, 5), (2, 3, 2, 4)):
        yield RNG.integers(0, 256, shape).astype(np.uint8)
        yield RNG.random(shape) > 0.6
    floats = RNG.standard_normal((4, 6))
    floats.flat[5] = np.nan
    yield floats
    yield RNG.integers(-50, 50, (4, 6)).astype(np.int32)


@pytest.mark.parametrize("op", numba_compat.AXIS_REDUCTIONS)
def test_axis_reductions_equal_numpy_in_value_and_dtype(op):
    method = _jitted(f"def f(a, k):\n    return a.{op}(axis=k)\n")
    function = _jitted(f"def f(a, k):\n    return np.{op}(a, axis=k)\n")
    for i, a in enumerate(_arrays()):
        a.setflags(write=False)
        for axis in range(-a.ndim, a.ndim):
            want = getattr(a, op)(axis=axis)
            for got in (method(a, axis), function(a, axis)) if i == 0 else (method(a, axis),):
                if a.ndim > 1:  # numba hands scalars back as Python numbers: their dtype is not kept
                    assert got.dtype == want.dtype, (op, a.dtype, a.shape, axis)
                assert np.array_equal(got, want, equal_nan=a.dtype.kind == "f"), (op, a.dtype, a.shape, axis)


def test_reducing_along_a_missing_axis_raises_like_numpy():
    f = _jitted("def f(a):\n    return a.max(axis=3)\n")
    a = np.zeros((2, 3, 4), np.uint8)
    with pytest.raises(ValueError):
        a.max(axis=3)
    with pytest.raises(ValueError):
        f(a)


def test_reshape_of_a_slice_compiles():
    source = "def f(obs):\n    g = obs[:, :, 1]\n    return g.reshape(2, 4, 3, 4).max(axis=3).sum() + np.reshape(g, (-1,))[5]\n"
    obs = RNG.integers(0, 256, (8, 12, 3)).astype(np.uint8)
    obs.setflags(write=False)
    assert _jitted(source)(obs) == _python(source)(obs)


@pytest.mark.parametrize("source", [
    "def f(obs):\n    return any(obs[y, 0, 0] > 200 for y in range(obs.shape[0]))\n",
    "def f(obs):\n    return all(obs[y, x, 1] < 250 for y in range(obs.shape[0]) for x in range(2))\n",
    "def f(obs):\n    return sum(int(obs[y, 1, 2]) for y in range(obs.shape[0])) > 300\n",
    "def f(obs):\n    return max(int(v) for v in obs[:, 0, 0]) > 100 and not any([v > 254 for v in obs[0, :, 1]])\n",
])
def test_generator_expressions_feeding_builtins(source):
    f, reference = _jitted(source), _python(source)
    for _ in range(20):
        obs = RNG.integers(0, 256, (6, 5, 3)).astype(np.uint8)
        obs.setflags(write=False)
        assert bool(f(obs)) == bool(reference(obs))


def test_stores_through_masks_of_any_rank():
    source = (
        "def f(obs):\n"
        "    labels = np.zeros((obs.shape[0], obs.shape[1]), np.int32)\n"
        "    labels[(obs[:, :, 1] >= 128) & (obs[:, :, 0] < 100)] = 1\n"
        "    hot = obs[:, :, 2] > 200\n"
        "    labels[hot] = 2\n"
        "    m = obs.copy()\n"
        "    m[~(obs[:, :, 0] > 10)] = 7\n"
        "    flat = np.zeros(4, np.int32)\n"
        "    flat[flat == 0] = 3\n"
        "    return labels.sum() * 1000 + int(m.sum()) + int(flat.sum())\n")
    f, reference = _jitted(source), _python(source)
    for _ in range(10):
        obs = RNG.integers(0, 256, (6, 5, 3)).astype(np.uint8)
        obs.setflags(write=False)
        assert f(obs) == reference(obs)


def test_mask_of_the_wrong_shape_raises_index_error_like_numpy():
    source = "def f(a, mask):\n    b = a.copy()\n    b[mask > 0] = 1\n    return b\n"
    a, mask = np.zeros((3, 4), np.int32), np.ones((4, 3), np.int32)
    with pytest.raises(IndexError):
        _python(source)(a, mask)
    with pytest.raises(IndexError):
        _jitted(source)(a, mask)


def test_what_is_not_visibly_a_mask_is_left_to_numba():
    """Dict and list stores stay plain subscripts: numba infers an empty dict's types from them."""
    source = ("def f(obs):\n    counts = {}\n    for y in range(obs.shape[0]):\n"
              "        key = int(obs[y, 0, 0]) // 64\n        counts[key] = y\n    return len(counts)\n")
    tree = numba_compat.rewrite(ast.parse(source), {"np"}, ["f"])
    assert "__cv_setitem" not in ast.unparse(tree)
    obs = RNG.integers(0, 256, (9, 2, 3)).astype(np.uint8)
    assert _jitted(source)(obs) == _python(source)(obs)


def test_program_functions_named_like_builtins_are_not_rewritten():
    tree = numba_compat.rewrite(ast.parse("def any(v):\n    return v\n\ndef f(o):\n    return any(o)\n"),
                                {"np"}, ["any", "f"])
    assert "__cv" not in ast.unparse(tree)


def test_helper_names_cannot_be_spelled_by_a_program():
    from sandbox import check_policy, parse_source

    for name in numba_compat.HELPERS:
        tree, issues = parse_source(f"SUBTASKS = ('a',)\n\ndef a(obs):\n    return {name}(obs, 0)\n")
        _, issues = check_policy(tree)
        assert issues, f"{name} must be unreachable from program text"


@pytest.mark.parametrize("op,axis", list(itertools.product(("any", "max"), (0, 1))))
def test_rewrite_keeps_line_numbers(op, axis):
    tree = numba_compat.rewrite(ast.parse(f"def f(a):\n\n    return a.{op}(axis={axis})\n"), {"np"}, ["f"])
    call = tree.body[0].body[0].value
    assert call.func.id == f"__cv_{op}_axis" and call.lineno == 3
