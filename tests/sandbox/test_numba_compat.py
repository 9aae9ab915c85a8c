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
    numba_compat.jit_generated(namespace, numba.njit(**JIT_OPTIONS))
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


def _frame(shape=(8, 8, 3)):
    obs = RNG.integers(0, 256, shape).astype(np.uint8)
    obs[1, 2] = (255, 255, 0)  # some pixels equal the colours compared with
    obs[3, 3] = (0, 255, 0)
    obs.setflags(write=False)
    return obs


def _same(source: str, *args):
    got, want = _jitted(source)(*args), _python(source)(*args)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and np.array_equal(got, want), (source, got, want)
    else:
        assert got == want and type(bool(got)) is type(bool(want)), (source, got, want)
    return want


@pytest.mark.parametrize("source", [
    "def f(obs):\n    return obs.astype(int) - obs.astype(int)[::-1]\n",
    "def f(obs):\n    return obs.astype(float) / 3\n",
    "def f(obs):\n    return obs.astype(bool)\n",
    "def f(obs):\n    return np.zeros(obs.shape[:2], dtype=int) + obs[:, :, 0]\n",
    "def f(obs):\n    return np.array((255, 255, 0), dtype=float) - obs[0, 0]\n",
    "def f(obs):\n    return np.ones(4, dtype=bool)\n",
])
def test_python_types_as_dtypes_mean_numpys_defaults(source):
    _same(source, _frame())


def test_int_of_an_unsigned_pixel_is_signed_as_in_python():
    # numba's own int() keeps uint8 unsigned (uint64), so this difference would wrap around.
    source = ("def f(obs):\n    best = 0\n    for y in range(obs.shape[0]):\n        r, g, b = obs[y, 0]\n"
              "        best = min(best, int(r) - int(b))\n    return best\n")
    obs = _frame()
    assert _same(source, obs) < 0
    _same("def f(obs):\n    return int(obs[0, 0, 0]) - 300 + int(2.7) + int(-2.7) + int(True)\n", obs)


@pytest.mark.parametrize("source", [
    "KEY = (255, 255, 0)\ndef f(obs):\n    return obs == KEY\n",
    "KEY = (255, 255, 0)\ndef f(obs):\n    return KEY != obs\n",
    "def f(obs):\n    return np.all(obs.reshape(-1, 3) == (0, 255, 0), axis=1)\n",
    "WEIGHTS = (0.5, 1, 2.0)\ndef f(obs):\n    return obs[0] == WEIGHTS\n",
    "def f(obs):\n    key = (255, 255, 0)\n    return (obs[1] != key).any(axis=-1)\n",
])
def test_arrays_compared_with_tuples_elementwise(source):
    _same(source, _frame())


@pytest.mark.parametrize("source", [
    "KEY = (255, 255, 0)\ndef f(obs):\n    return tuple(obs[1, 2]) == KEY\n",
    "KEY = (255, 255, 0)\ndef f(obs):\n    return tuple(obs[1, 3]) == KEY\n",
    "KEY = (255, 255, 0)\ndef f(obs):\n    return KEY != tuple(obs[1, 2])\n",
    "def f(obs):\n    return tuple(obs[1, 2]) == (255, 255)\n",                  # lengths differ
    "def f(obs):\n    return tuple(obs[1, 2]) == tuple(obs[3, 3])\n",
    "def f(obs):\n    return tuple(obs[1, 2, :2]) == tuple(obs[3, 3])\n",
    "COLOURS = ((0, 255, 0), (255, 255, 0))\ndef f(obs):\n    return tuple(obs[1, 2]) in COLOURS\n",
    "COLOURS = ((0, 255, 0), (255, 0, 0))\ndef f(obs):\n    return tuple(obs[1, 2]) in COLOURS\n",
    "def f(obs):\n    return tuple(obs[3, 3]) not in ((0, 255, 0), (1, 2, 3, 4))\n",  # options of two lengths
    "def f(obs):\n    n = 0\n    for y in range(obs.shape[0]):\n        for x in range(obs.shape[1]):\n"
    "            if tuple(obs[y, x]) == (255, 255, 0):\n                n += 1\n    return n\n",
    # a name bound to tuple(pixel), then compared (a coverage-corpus program written this way
    # failed to compile: numba has no tuple() of an array)
    "KEY = (255, 255, 0)\ndef f(obs):\n    pixel = tuple(obs[1, 2])\n    return pixel == KEY or pixel == (0, 0, 0)\n",
    "KEY = (255, 255, 0)\ndef f(obs):\n    pixel = tuple(obs[1, 3])\n    r = pixel[0]\n    return pixel != KEY and r > 3\n",
    "COLOURS = ((0, 255, 0), (255, 255, 0))\ndef f(obs):\n    p = tuple(obs[1, 2])\n    return p in COLOURS\n",
])
def test_tuple_of_a_pixel_compares_as_python_compares_tuples(source):
    _same(source, _frame())


def test_tuples_compared_with_tuples_stay_tuple_comparisons():
    source = "KEY = (255, 255, 0)\ndef f(obs):\n    return (int(obs[1, 2, 0]), int(obs[1, 2, 1]), 0) == KEY\n"
    assert _same(source, _frame()) is True


def test_only_names_bound_to_tuples_alone_are_treated_as_tuples():
    # A name taken for a tuple wrongly would cost nothing but a call: __cv_eq falls back to ==.
    tree = ast.parse("KEY = (1, 2)\nOTHER = 3\ndef f(a):\n    for item in a:\n        pass\n    both = (1, 2)\n"
                     "    both = a\n    return a == KEY, a == item, a == OTHER, a == both, a != (1, 2)\n")
    text = ast.unparse(numba_compat.rewrite(tree, {"np"}, ["f"]))
    assert text.endswith("return (__cv_eq(a, KEY), a == item, a == OTHER, a == both, __cv_ne(a, (1, 2)))"), text


def test_a_program_function_named_like_a_builtin_is_not_rewritten():
    tree = ast.parse("def int(x):\n    return 1\ndef tuple(x):\n    return x\ndef f(a):\n"
                     "    return int(a), tuple(a) == (1,), a.astype(float)\n")
    text = ast.unparse(numba_compat.rewrite(tree, {"np"}, ["int", "tuple", "f"]))
    assert "__cv_int" not in text and "__cv_seq_eq" not in text and "__cv_dtype_float" in text


@pytest.mark.parametrize("source", [
    "KEY = (255, 255, 0)\ndef f(obs):\n    return np.abs(obs.astype(int) - KEY).sum(axis=2)\n",
    "KEY = (255, 255, 0)\ndef f(obs):\n    return KEY - obs.astype(np.int32)\n",
    "def f(obs):\n    return obs / (255.0, 255.0, 255.0)\n",
    "def f(obs):\n    return (obs.astype(int) * (1, 2, 4)).sum(axis=-1) % (7, 5, 3)[0]\n",
    "LOW = (200, 200, 0)\ndef f(obs):\n    return np.all(obs >= LOW, axis=2) & np.all(obs < (256, 256, 60), axis=2)\n",
    "def f(obs):\n    return obs // (2, 3, 4)\n",
])
def test_arrays_and_tuples_in_arithmetic_as_numpy(source):
    _same(source, _frame())


def test_tuples_with_tuples_keep_python_meaning():
    # Concatenation and ordering of tuples, not element-wise arithmetic (numba has no tuple * n).
    _same("KEY = (1, 2)\ndef f(obs):\n    t = KEY + (3,)\n    return len(t) * 10 + int(t < (1, 3)) + int(KEY == (1, 2))\n",
          _frame())


@pytest.mark.parametrize("source", [
    "KEY = (255, 255, 0)\ndef f(obs):\n    return np.isclose(obs.astype(float), np.array(KEY, dtype=float), atol=10.0)\n",
    "def f(obs):\n    return np.isclose(obs[:, :, 0] / 255, 0.5, 0.1)\n",
    "def f(obs):\n    return np.isclose(obs[0], (255, 255, 0), rtol=0.0, atol=1e-9)\n",
    "def f(obs):\n    return np.allclose(obs[1, 2], (255, 255, 0))\n",
    "def f(obs):\n    return np.allclose(obs[1, 3], (255, 255, 0), atol=300)\n",
    "def f(obs):\n    return np.isclose(float(obs[0, 0, 0]), 3.0, atol=0.5)\n",
    "def f(obs):\n    return np.allclose(1.0, 1.0 + 1e-9)\n",
])
def test_isclose_and_allclose_broadcast_as_numpy(source):
    _same(source, _frame())


def test_isclose_treats_infinities_and_nan_as_numpy():
    source = "def f(a, b):\n    return np.isclose(a, b)\n"
    a = np.array([np.inf, -np.inf, np.inf, np.nan, 1.0, 1.0])
    b = np.array([np.inf, np.inf, 1.0, np.nan, np.inf, 1.0 + 1e-9])
    assert np.array_equal(_jitted(source)(a, b), _python(source)(a, b))


def test_parameters_given_tuples_are_followed_through_helpers():
    source = ("KEY = (255, 255, 0)\n"
              "def dist(obs, colour):\n    return np.abs(obs.astype(int) - colour).sum(axis=-1)\n"
              "def near(obs, colour, tol):\n    return dist(obs, colour) <= tol\n"
              "def scale(obs, factor):\n    return obs * factor\n"
              "def f(obs):\n    return near(obs, KEY, 90).sum() + near(obs, colour=(0, 255, 0), tol=160).sum()"
              " + scale(obs.astype(np.int32), 2).sum()\n")
    text = ast.unparse(numba_compat.rewrite(ast.parse(source), {"np"}, ["dist", "near", "scale", "f"]))
    assert "__cv_sub_np(obs.astype(__cv_dtype_int), colour)" in text   # reached through near()
    assert "__cv_le(" not in text   # tol never gets a tuple
    _same(source, _frame())


@pytest.mark.parametrize("source", [
    "def f(obs):\n    return np.linalg.norm(obs[0, 0].astype(float) - obs[1, 1])\n",
    "def f(obs):\n    return np.linalg.norm(obs[0, 0])\n",                       # integers: NumPy makes them floats
    "def f(obs):\n    return np.linalg.norm(obs[:, :, 0] / 255.0)\n",           # a matrix: the Frobenius norm
    "def f(obs):\n    return np.linalg.norm(obs.astype(float) - (255, 255, 0), axis=-1)\n",
    "def f(obs):\n    return np.linalg.norm(obs[0], axis=0)\n",
    "def f(obs):\n    return np.linalg.norm(obs[2, 3, :2], axis=0) + np.linalg.norm((3, 4))\n",
])
def test_linalg_norm_as_numpy(source):
    # NumPy sums squares with BLAS or pairwise: equal to the last bits, not always bit for bit.
    obs = _frame()
    got, want = _jitted(source)(obs), _python(source)(obs)
    assert np.allclose(got, want, rtol=1e-12, atol=0) and np.shape(got) == np.shape(want), (source, got, want)


@pytest.mark.parametrize("source", [
    "def f(obs):\n    return np.clip(1.0 - obs[0, 0, 0] / 100.0, 0.0, 1.0)\n",
    "def f(obs):\n    return np.clip(int(obs[0, 0, 0]) - 100, 0, 50)\n",
    "def f(obs):\n    return np.clip(int(obs[0, 0, 0]), 0.0, 10.0)\n",           # the wider type wins
    "def f(obs):\n    return np.clip(np.nan, 0.0, 1.0)\n",
    "def f(obs):\n    return np.clip(obs, 10, 200)\n",
    "def f(obs):\n    return obs.astype(np.int32).clip(-5, 100)\n",
    "def f(obs):\n    return (obs[0, 0, 0] / 255.0 - 0.5).clip(0.0, 0.25)\n",     # the method on a number
])
def test_clip_of_numbers_and_arrays_as_numpy(source):
    obs = _frame()
    got, want = _jitted(source)(obs), _python(source)(obs)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and np.array_equal(got, want), source
    else:
        assert np.array_equal(got, want, equal_nan=True) and isinstance(got, float) == isinstance(want, float), \
            (source, got, want)


@pytest.mark.parametrize("op", numba_compat.AXIS_REDUCTIONS)
def test_literal_tuple_axes_reduce_as_numpy(op):
    # Written in the source, the axes are known when numba compiles: one specialised loop each
    # (so every case is a compile: a frame's dtype and one other, three spellings).
    floats = RNG.standard_normal((4, 5, 3))
    floats[1, 2, 0] = np.nan
    other = RNG.random((3, 4, 2)) > 0.5 if op in ("any", "all") else floats
    for axes in ("(0, 1)", "(2, 0)", "(0, -2, 2)"):
        source = f"def f(a):\n    return a.{op}(axis={axes})\n"
        f, g = _jitted(source), _python(source)
        for a in (RNG.integers(0, 256, (6, 4, 3)).astype(np.uint8), other):
            got, want = f(a), g(a)
            assert np.shape(got) == np.shape(want), (op, axes, a.shape)
            if np.ndim(want):
                assert got.dtype == want.dtype, (op, axes, a.dtype)
            assert np.allclose(got, want, equal_nan=True, rtol=1e-12), (op, axes, a.dtype, got, want)


@pytest.mark.parametrize("axes", ["(0, 0)", "(0, 3)"])
def test_tuple_axes_numpy_refuses_are_refused(axes):
    a = np.zeros((2, 3, 4), np.uint8)
    with pytest.raises(ValueError):
        _python(f"def f(a):\n    return a.max(axis={axes})\n")(a)
    with pytest.raises(ValueError):
        _jitted(f"def f(a):\n    return a.max(axis={axes})\n")(a)


def test_names_bound_by_unpacking_are_neither_masks_nor_tuples():
    source = ("KEY = (1, 2, 3)\ndef f(obs):\n    hot = obs > 1\n    a, hot2 = obs > 1, obs\n    hot2 = obs > 2\n"
              "    m = obs.copy()\n    m[hot] = 0\n    m[hot2] = 0\n    KEY2, n = KEY, 1\n    return m == KEY, m == KEY2\n")
    text = ast.unparse(numba_compat.rewrite(ast.parse(source), {"np"}, ["f"]))
    assert "__cv_setitem(m, hot, 0)" in text and "m[hot2] = 0" in text    # m[hot] binds no name
    assert "__cv_eq(m, KEY)" in text and "m == KEY2" in text


DICT_SOURCE = '''
COLOURS = {"key": (255, 255, 0), "goal": (0, 255, 0)}
LEVELS = {0: np.array([1.5, 2.5]), 1: np.array([3.0, 4.0])}
def f(obs, name):
    r, g, b = COLOURS["key"]
    n = r + g + len(COLOURS) + int("key" in COLOURS) + int("door" not in COLOURS)
    for k in COLOURS:
        n += len(k)
    for k, colour in COLOURS.items():
        if (obs[1, 2] == colour).all():
            n += 1
    n += sum([int(c[1]) for c in COLOURS.values()]) + sum([len(k) for k in COLOURS.keys()])
    return n, COLOURS[name], COLOURS.get(name + "x", (1, 2, 3)), LEVELS[1].sum() + LEVELS[int(obs[0, 0, 0]) % 2][0]
'''


def test_dicts_of_constants_compile_and_look_up_as_python():
    obs = _frame()
    for name in ("key", "goal"):
        assert _jitted(DICT_SOURCE)(obs, name) == _python(DICT_SOURCE)(obs, name)
    with pytest.raises(KeyError):
        _python(DICT_SOURCE)(obs, "door")
    with pytest.raises(KeyError):
        _jitted(DICT_SOURCE)(obs, "door")


def test_a_dict_name_a_function_rebinds_or_passes_on_is_left_as_written():
    source = ('COLOURS = {"key": (255, 255, 0)}\ndef lookup(d, k):\n    return d[k]\n'
              'def f(COLOURS):\n    return COLOURS["key"]\ndef g(obs):\n    return lookup(COLOURS, "key")\n')
    text = ast.unparse(numba_compat.rewrite(ast.parse(source), {"np"}, ["lookup", "f", "g"]))
    assert "return COLOURS['key']" in text and "lookup(COLOURS, 'key')" in text


MIXED_SOURCE = '''
OFFSETS = {"key": ((0, 1), (1, 1)), "door": ((0, 0), (0, 1), (1, 0)), "goal": (2, 2), "name": "g"}
def count(obs, name):
    n = 0
    for dy, dx in OFFSETS[name]:
        n += int(obs[dy, dx, 0])
    return n + len(OFFSETS.get(name, (0,)))
def f(obs):
    t = count(obs, "key") * 1000 + count(obs, "door") + len(OFFSETS["goal"]) + len(OFFSETS["name"])
    for name, value in OFFSETS.items():
        t += len(value) * 7 + len(name)
        if name == "goal":
            break
    for k in OFFSETS:
        t += len(OFFSETS[k]) * 3
    for value in OFFSETS.values():
        t += len(value)
    return t + len(OFFSETS) + int("door" in OFFSETS)
'''


def test_a_dict_whose_values_have_different_shapes_compiles_per_key():
    # One lookup function would have to return tuples of two and three pairs: numba cannot type it.
    obs = _frame()
    assert _jitted(MIXED_SOURCE)(obs) == _python(MIXED_SOURCE)(obs)


@pytest.mark.parametrize("use", [
    "OFFSETS[str(len(obs))]",                          # a computed key
    "[len(v) for v in OFFSETS.values()]",              # values in a comprehension
    "OFFSETS.items()",                                  # the items as a value
])
def test_a_mixed_dict_read_in_a_way_numba_cannot_type_is_refused_with_cv216(use):
    source = MIXED_SOURCE.replace("    return t + len(OFFSETS)", f"    x = {use}\n    return t + len(OFFSETS)")
    with pytest.raises(numba_compat.Refused) as refused:
        numba_compat.rewrite(ast.parse(source), {"np"}, ["count", "f"], ["f"])
    issue = refused.value.issue
    assert issue.code == "CV216" and "different shapes" in issue.message
    assert "literal key (OFFSETS['key'])" in issue.hint and issue.line == source.splitlines().index(f"    x = {use}") + 1


def test_a_mixed_dict_key_parameter_given_a_computed_key_fails_to_compile_readably():
    from sandbox.native import compile_issue

    source = MIXED_SOURCE.replace("        t += len(OFFSETS[k]) * 3\n", "        t += count(obs, k)\n")
    with pytest.raises(numba.core.errors.TypingError) as failed:
        _jitted(source)(_frame())
    issue = compile_issue("f", failed.value, {"count": 3, "f": 9})
    assert issue.code == "CV601" and "literal" in issue.message
    assert "literal keys" in issue.hint and ".items()" in issue.hint


def test_slice_constants_compile():
    source = ("ROWS = slice(1, 5)\nPARTS = (slice(0, 4), slice(None, 6, 2))\nS = {'a': slice(0, 2), 'b': slice(0, 8, 4)}\n"
              "def f(obs):\n    return int(obs[ROWS, 0, 0].sum()) + int(obs[PARTS].sum()) + int(obs[slice(2, 3)].sum())"
              " + int(obs[S['a']].sum()) + int(obs[S['b']].sum())\n")
    obs = _frame()
    assert _jitted(source)(obs) == _python(source)(obs)
