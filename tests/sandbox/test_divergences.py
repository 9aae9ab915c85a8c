"""Python/numba divergences: each one exists, and carverify compiles Python's meaning or refuses it.

Every case runs the same source three ways on the same inputs: as Python with NumPy (the
interpreted run's semantics), jitted by numba as written (to show the divergence is real in
this venv; if numba ever changes, that assertion says so), and rewritten by
sandbox/numba_compat.py then jitted, as the compile stage does.  No mocks: real numba.
"""
from __future__ import annotations

import ast
import textwrap
import warnings

import numba
import numpy as np
import pytest

from sandbox import check_policy, numba_compat, parse_source
from sandbox.native import JIT_OPTIONS, wide_constant

ERROR = object()


def _rewritten(source: str, entry=("f",)):
    tree = ast.parse(source)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    namespace = {"np": np, **numba_compat.HELPERS}
    exec(compile(numba_compat.rewrite(tree, {"np"}, functions, entry), "<test>", "exec"), namespace)
    for fn in functions:
        namespace[fn] = numba.njit(**JIT_OPTIONS)(namespace[fn])
    numba_compat.jit_generated(namespace, numba.njit(**JIT_OPTIONS))
    return namespace["f"]


def _python(source: str):
    namespace = {"np": np}
    exec(compile(source, "<test>", "exec"), namespace)
    return namespace["f"]


def _as_written(source: str):
    return numba.njit(**JIT_OPTIONS)(_python(source))


def _run(f, *args):
    """(value, dtype) or (ERROR, exception type)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = f(*args)
        except Exception as exc:  # noqa: BLE001 - the exception type is the result
            return ERROR, type(exc)
    dtype = value.dtype if isinstance(value, (np.ndarray, np.generic)) else None
    return value, dtype


def _same(python, compiled) -> bool:
    (pv, pt), (cv, ct) = python, compiled
    if pv is ERROR or cv is ERROR:
        return pv is cv and pt is ct
    if isinstance(pv, np.ndarray):
        return isinstance(cv, np.ndarray) and pt == ct and np.array_equal(pv, cv)
    # numba hands scalars back as Python numbers: compare values and kind (int, float, bool);
    # a wrapped uint8 and a widened int64 differ in value, which is what matters here
    kinds = {"u": "i"}
    kind = [kinds.get(np.asarray(v).dtype.kind, np.asarray(v).dtype.kind) for v in (pv, cv)]
    return pv == cv and kind[0] == kind[1]


def _policy_codes(body: str, header: str = "") -> list[str]:
    source = f'import numpy as np\nSUBTASKS = ("a",)\n{header}def a(obs):\n' + textwrap.indent(body, "    ") + "\n"
    tree, issues = parse_source(source)
    return [i.code for i in (issues or check_policy(tree)[1])]


def _diverges_then_agrees(source: str, *args):
    python = _run(_python(source), *args)
    assert not _same(python, _run(_as_written(source), *args)), "numba no longer diverges here: update the test"
    compiled = _run(_rewritten(source), *args)
    assert _same(python, compiled), (source, python, compiled)
    return python


UINT8 = np.array([[250, 200, 3], [0, 128, 255]], np.uint8)


# -- integer ** negative integer ----------------------------------------------------------


@pytest.mark.parametrize("base", [2, 3, -4, 1])
def test_python_int_to_a_negative_constant_power_is_a_float(base):
    # 2 ** -1 == 0.5 in Python; numba's int ** int is an int (0).
    source = "P = -2\ndef f(a):\n    n = int(a[0])\n    return n ** -1 + n ** P + pow(n, -3)\n"
    value, _ = _diverges_then_agrees(source, np.array([base], np.int64))
    assert value == base ** -1 + base ** -2 + base ** -3


def test_zero_to_a_negative_power_raises_zero_division_on_both_sides():
    source = "def f(a):\n    n = int(a[0])\n    return n ** -1\n"
    zero = np.array([0], np.int64)
    assert _run(_python(source), zero) == _run(_rewritten(source), zero) == (ERROR, ZeroDivisionError)


def test_numpy_ints_to_a_negative_power_are_refused_as_numpy_refuses_them():
    # np.int64(2) ** -1 is NumPy's ValueError, np.uint8(2) ** -1 its OverflowError; numba says 0.
    for dtype, error in ((np.int64, ValueError), (np.uint8, OverflowError)):
        source = "def f(a):\n    return a[0] ** -1\n"
        a = np.array([2], dtype)
        assert _run(_python(source), a) == (ERROR, error)
        assert _run(_as_written(source), a)[0] == 0
        assert _run(_rewritten(source), a) == (ERROR, error), dtype


def test_an_exponent_the_source_does_not_fix_is_refused_statically():
    assert _policy_codes("k = 2 ** obs.shape[0]\nreturn k > 0") == ["CV213"]
    assert _policy_codes("return pow(obs[0], obs[1]) > 0") == ["CV213"]
    assert _policy_codes("return float(obs[0]) ** obs[1] > 0") == []     # a float power: no int result
    # ... because the sign, unknown when compiling, decides Python's result type.
    exponent = np.array([-1], np.int64)
    source = "def f(e):\n    return 2 ** int(e[0])\n"
    assert _run(_python(source), exponent)[0] == 0.5
    assert _run(_as_written(source), exponent)[0] == 0


# -- round(x, ndigits) ------------------------------------------------------------------


def test_round_with_digits_depends_on_the_float_type_so_it_is_refused():
    # A Python float rounds its decimal digits, np.float64 (and numba) round x * 100.
    assert round(2.675, 2) == 2.67 and round(np.float64(2.675), 2) == 2.68
    assert numba.njit(lambda x: round(x, 2))(2.675) == 2.68
    assert _policy_codes("return round(obs[0], 2) > 0") == ["CV214"]
    assert _policy_codes("return round(obs[0]) > 0") == []


def test_np_round_the_hint_names_agrees_compiled_and_interpreted():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.uniform(-100, 100, 20000), np.arange(-2000, 2000) / 1000 + 0.0005, [2.675, 0.125]])
    source = "def f(a):\n    return np.round(a, 2), np.round(a[0], 1)\n"
    python, compiled = _python(source)(values), _rewritten(source)(values)
    assert np.array_equal(python[0], compiled[0]) and python[1] == compiled[1]


# -- int() and round() of NaN, infinities, floats beyond int64 ------------------------------


@pytest.mark.parametrize("value,error", [(float("nan"), ValueError), (float("inf"), OverflowError),
                                         (-float("inf"), OverflowError)])
@pytest.mark.parametrize("call", ["int", "round"])
def test_int_and_round_of_nan_and_infinity_raise_as_in_python(call, value, error):
    source = f"def f(x):\n    return {call}(x[0])\n"
    x = np.array([value])
    assert _run(_python(source), x) == (ERROR, error)
    assert _run(_as_written(source), x)[0] == np.iinfo(np.int64).min   # numba's answer, silently
    assert _run(_rewritten(source), x) == (ERROR, error)


def test_int_of_a_float_beyond_int64_raises_instead_of_wrapping():
    # Python's answer (10**19) does not fit the compiled check's int64: it raises, never INT64_MIN.
    source = "def f(x):\n    return int(x[0]) > 0\n"
    x = np.array([1e19])
    assert _run(_python(source), x)[0] is True
    assert _run(_as_written(source), x)[0] is False
    assert _run(_rewritten(source), x) == (ERROR, OverflowError)
    inside = np.array([-9.2e18, 2.7, -2.7, 9.2e18])
    source = "def f(x):\n    return int(x[0]), int(x[1]), int(x[2]), round(x[3])\n"
    assert _python(source)(inside) == _rewritten(source)(inside)


# -- NEP 50: Python numbers beside NumPy values ----------------------------------------------


@pytest.mark.parametrize("source", [
    "def f(obs):\n    return obs.astype(np.uint8) * 2\n",                 # NumPy wraps in uint8
    "def f(obs):\n    return obs[0, 0] + 10\n",                           # a uint8 scalar too
    "def f(obs):\n    return obs[1, 0] - 1\n",
    "def f(obs):\n    return 3 * obs[0]\n",
    "def f(obs):\n    m = obs.copy()\n    m += 10\n    return m\n",         # in place (numba crashes as written)
    "def f(obs):\n    return obs.astype(np.float32) * 0.1\n",             # float32 stays float32
    "def f(obs):\n    total = 0\n    for v in obs[0]:\n        total += v\n    return total\n",   # 0 + uint8 is uint8
    "def f(obs):\n    return obs[..., 0] + 300\n",                         # NumPy refuses 300 for uint8
    "def f(obs):\n    return 300 - obs[0, 0]\n",
    "def f(obs):\n    return obs[0] // 0 + obs[0] % 0\n",
])
def test_python_numbers_beside_narrow_numpy_values_follow_nep50(source):
    _diverges_then_agrees(source, UINT8)


def test_nep50_keeps_the_in_place_update_in_place():
    source = "def f(obs):\n    m = obs.copy()\n    alias = m\n    m += 10\n    return alias\n"
    assert np.array_equal(_rewritten(source)(UINT8), _python(source)(UINT8))


@pytest.mark.parametrize("source", [
    "def f(obs):\n    return obs.astype(np.int32) + 300\n",      # fits: int32 either way
    "def f(obs):\n    return obs / 2 + obs[0, 0] * 1.5\n",        # floats: float64 either way
    "def f(obs):\n    return obs.astype(np.int64) * 2 + int(obs[0, 0])\n",
    "def f(obs):\n    return (obs > 100) & (obs < 200)\n",
])
def test_combinations_numba_already_promotes_like_numpy_are_unchanged(source):
    assert _same(_run(_python(source), UINT8), _run(_rewritten(source), UINT8))


# -- Python ints beyond int64 ---------------------------------------------------------------


@pytest.mark.parametrize("source", [
    "def f(obs):\n    x = int(obs[0, 0]) * 2 ** 40\n    return x * x > 0\n",
    "def f(obs):\n    t = 0\n    for v in obs[0]:\n        t += int(v) * 10 ** 17\n    return t // 10 ** 17 == 453\n",
    "def f(obs):\n    t = 1\n    for _ in range(70):\n        t = t + t\n    return t > 0\n",
    "def f(obs):\n    return (int(obs[0, 0]) << 60) >> 60 == 250\n",
    "def f(obs):\n    t = -(2 ** 62) * 2\n    return -t > 0\n",
])
def test_python_int_arithmetic_that_leaves_int64_raises_instead_of_wrapping(source):
    # Python's answer is True; numba's wraps to a wrong one; the compiled check refuses loudly.
    assert _run(_python(source), UINT8)[0] is True
    assert _run(_as_written(source), UINT8)[0] is not True
    assert _run(_rewritten(source), UINT8) == (ERROR, OverflowError)


def test_int_arithmetic_inside_int64_is_exact_and_index_arithmetic_stays_plain():
    source = ("def f(obs):\n    n = 0\n    for y in range(obs.shape[0]):\n        for x in range(obs.shape[1]):\n"
              "            n += (y * 8 + 4) * (x - 9) // 3 % 7 - int(obs[y, x]) * 2 ** 20\n    return n\n")
    assert _python(source)(UINT8) == _rewritten(source)(UINT8)
    text = ast.unparse(numba_compat.rewrite(ast.parse(source), {"np"}, ["f"], ["f"]))
    assert "y * 8 + 4, x - 9" in text   # bounded: no helper call for index arithmetic


def test_integers_outside_int64_are_refused_where_written_or_computed():
    assert _policy_codes("return obs[0] < 99999999999999999999") == ["CV215"]
    namespace = {"BIG": 10 ** 19, "SMALL": 2 ** 62, "T": (1, (2, -(2 ** 64)))}
    info = type("Info", (), {"constants": frozenset(namespace)})()
    issue = wide_constant(namespace, info)
    assert issue.code == "CV215"
    assert issue.message.startswith("module constant 'BIG' holds the integer 10000000000000000000")
    assert wide_constant({"SMALL": 2 ** 62}, type("Info", (), {"constants": frozenset({"SMALL"})})()) is None
    # numba would have typed it uint64 and computed in floats:
    assert _as_written("BIG = 10 ** 19\ndef f(a):\n    return a[0] + BIG\n")(np.array([1])) != 10 ** 19 + 1


# -- scope and module-level constants -----------------------------------------------------------


def test_rewrites_respect_names_that_shadow_builtins():
    source = ("def g(int, tuple, x):\n    return int(x), tuple(x) == (1.5,)\n"
              "def f(a):\n    return g(float, list, a[0])\n")
    text = ast.unparse(numba_compat.rewrite(ast.parse(source), {"np"}, ["g", "f"], ["f"]))
    assert "__cv_int" not in text and "__cv_seq_eq" not in text
    tree = ast.parse("def f(np, a):\n    return np.clip(a, 0, 1)\n")
    assert "__cv_clip" not in ast.unparse(numba_compat.rewrite(tree, {"np"}, ["f"]))


def test_module_level_constants_are_computed_by_python_and_not_rewritten():
    source = ("C = np.array([1, 2]) + (1, 2)\nK = np.uint8(250) + 10\nR = 2 ** -1\n"
              "def f(a):\n    return int(C.sum()) + int(K) + R\n")
    text = ast.unparse(numba_compat.rewrite(ast.parse(source), {"np"}, ["f"], ["f"]))
    assert text.startswith("C = np.array([1, 2]) + (1, 2)\nK = np.uint8(250) + 10\nR = 2 ** (-1)\n")
    a = np.zeros(1)
    with np.errstate(over="ignore"):   # K wraps, in Python, once: that is the value both sides read
        assert _rewritten(source)(a) == _python(source)(a) == 6 + 4 + 0.5


# -- end to end: the sandbox child, restricted and native, on the same frames ------------------------

E2E = '''
import numpy as np

SUBTASKS = ("wraps", "powers", "offsets")

OFFSETS = {"key": ((0, 1), (1, 1)), "door": ((0, 0), (0, 1), (1, 0))}
ROWS = slice(0, 2)


def wraps(obs):
    total = 0
    for v in obs[ROWS, 0, 0]:
        total += v                      # Python: 0 + uint8 is uint8, and wraps
    doubled = obs[0, 0].astype(np.uint8) * 2
    return bool(total > 100) and bool(doubled[0] < 128)


def powers(obs):
    n = int(obs[0, 0, 1]) + 1
    return n ** -1 > 0.004


def count(obs, name):
    k = 0
    for dy, dx in OFFSETS[name]:
        k += int(obs[dy, dx, 2] > 128)
    return k


def offsets(obs):
    return count(obs, "key") + count(obs, "door") >= 3
'''


def test_the_compiled_twin_agrees_with_the_restricted_run_on_every_frame():
    from sandbox import Sandbox

    rng = np.random.default_rng(11)
    frames = rng.integers(0, 256, (64, 8, 8, 3)).astype(np.uint8)
    names = ["wraps", "powers", "offsets"]
    with Sandbox(E2E) as box:
        assert box.load().ok
        interpreted = box.call(names, frames, stop_on_error=False)
    with Sandbox(E2E, mode="native") as box:
        assert box.load().ok, box.loaded.issues
        compiled = box.call(names, frames, stop_on_error=False)
    assert compiled.dead is None and interpreted.dead is None
    assert compiled.values == interpreted.values
    for name in names:   # each check goes both ways on these frames: the comparison can fail
        assert len(set(interpreted.values[name])) == 2, name


@pytest.mark.parametrize("edit,code", [
    (("ROWS = slice(0, 2)", "ROWS = slice(0, 2)\nBIG = 10 ** 19"), "CV215"),
    (("k = 0\n", "k = len(OFFSETS[name + ''])\n"), "CV216"),   # a key computed at run time
])
def test_what_the_compiled_twin_cannot_mean_is_refused_when_it_loads(edit, code):
    from sandbox import Sandbox

    source = E2E.replace(*edit)
    with Sandbox(source) as box:
        assert box.load().ok          # fine Python: the restricted run loads it
    with Sandbox(source, mode="native") as box:
        load = box.load()
    assert not load.ok and [i.code for i in load.issues] == [code], load.issues
    assert load.issues[0].hint
