"""The helpers sandbox/numba_compat.py rewrites programs to call, with NumPy's semantics.

Each is a stub a program can never name (a double-underscore name, which the policy
forbids) with a numba `@overload` that picks an implementation by the argument types at
compile time.  Importing this module registers them, before the sandbox child drops
privileges; HELPERS is what a compiled program's globals must hold.
"""
from __future__ import annotations

import ast

import numpy as np

from numba import njit, types
from numba.extending import overload

AXIS_REDUCTIONS = ("any", "all", "max", "min", "mean")   # numba takes axis= for sum/argmax itself
CONSUMERS = {"any", "all", "sum", "max", "min", "sorted", "list"}  # builtins a genexpr may feed


def _stub(name: str):
    def stub(*args):  # never runs: numba compiles the overload registered for it below
        raise NotImplementedError(name)
    stub.__name__ = stub.__qualname__ = name
    return stub


# x.any(axis=k) -> __cv_any_axis(x, k), and so on.
AXIS_HELPERS = {op: _stub(f"__cv_{op}_axis") for op in AXIS_REDUCTIONS}


def __cv_any_of(iterable):
    raise NotImplementedError


def __cv_all_of(iterable):
    raise NotImplementedError


def __cv_contiguous(a):
    raise NotImplementedError


def __cv_setitem(a, index, value):
    raise NotImplementedError


# An array and a tuple under a comparison or arithmetic operator: NumPy makes the tuple an array.
TUPLE_OPS = {ast.Eq: ("eq", "=="), ast.NotEq: ("ne", "!="), ast.Lt: ("lt", "<"), ast.LtE: ("le", "<="),
             ast.Gt: ("gt", ">"), ast.GtE: ("ge", ">="), ast.Add: ("add", "+"), ast.Sub: ("sub", "-"),
             ast.Mult: ("mul", "*"), ast.Div: ("truediv", "/"), ast.FloorDiv: ("floordiv", "//"),
             ast.Mod: ("mod", "%")}
OP_HELPERS = {f"__cv_{name}": _stub(f"__cv_{name}") for name, _ in TUPLE_OPS.values()}
# tuple(p) == t, tuple(p) in ts; int(x); np.isclose/np.allclose (numba's own crash on broadcast shapes);
# np.linalg.norm of integers or along an axis (numba's takes float arrays and no axis); np.clip of a number
COMPARE_HELPERS = {name: _stub(name) for name in ("__cv_seq_eq", "__cv_seq_in", "__cv_int", "__cv_isclose",
                                                  "__cv_allclose", "__cv_norm", "__cv_norm_axis", "__cv_clip")}
CLOSE_DEFAULTS = (("rtol", 1e-05), ("atol", 1e-08))   # NumPy's

# A Python type where NumPy takes a dtype means NumPy's default for it; numba wants the dtype.
DTYPE_NAMES = {"int": "__cv_dtype_int", "float": "__cv_dtype_float", "bool": "__cv_dtype_bool"}
DTYPES = {"__cv_dtype_int": np.dtype(int).type, "__cv_dtype_float": np.dtype(float).type,
          "__cv_dtype_bool": np.bool_}

HELPERS = {**{f.__name__: f for f in AXIS_HELPERS.values()}, "__cv_any_of": __cv_any_of, "__cv_all_of": __cv_all_of,
           "__cv_contiguous": __cv_contiguous, "__cv_setitem": __cv_setitem, **OP_HELPERS, **COMPARE_HELPERS, **DTYPES}


# -- helper implementations (typed by numba at compile time) ------------------------------


# Reduce one contiguous row `row` of length n into `acc`, as NumPy does (NaN wins max/min).
_ROW_BODY = {
    "any": "        acc = False\n        for j in range(n):\n            if row[j]:\n                acc = True\n"
           "                break\n",
    "all": "        acc = True\n        for j in range(n):\n            if not row[j]:\n                acc = False\n"
           "                break\n",
    "max": "        acc = row[0]\n        for j in range(1, n):\n            if row[j] > acc or row[j] != row[j]:\n"
           "                acc = row[j]\n",
    "min": "        acc = row[0]\n        for j in range(1, n):\n            if row[j] < acc or row[j] != row[j]:\n"
           "                acc = row[j]\n",
    "mean": "        acc = 0.0\n        for j in range(n):\n            acc += row[j]\n        acc = acc / n\n",
}


def _empty_check(op: str) -> str:
    return ("    if n == 0:\n        raise ValueError('zero-size array to reduction operation "
            "which has no identity')\n") if op in ("max", "min") else ""


def _tuple_reduction_source(ndim: int, axes: tuple[int, ...], op: str) -> str:
    """numba code reducing an ndim-array over several axes known when it is compiled (literal tuples).

    The kept axes go first and the reduced ones last, so each output element is one
    contiguous row: NumPy's result, with the mean a float64 sum over the row divided by its length.
    """
    kept = [d for d in range(ndim) if d not in axes]
    perm = tuple(kept) + tuple(axes)
    shape = "(" + "".join(f"a.shape[{d}], " for d in kept) + ")"
    return (
        "def impl(a, axis):\n"
        f"    b = np.ascontiguousarray(a.transpose({perm}))\n"
        "    n = 1\n"
        + "".join(f"    n *= a.shape[{d}]\n" for d in axes)
        + _empty_check(op) +
        "    outer = 1\n"
        + "".join(f"    outer *= a.shape[{d}]\n" for d in kept) +
        "    rows = b.reshape((outer, n))\n"
        "    out = np.empty(outer, OUT)\n"
        "    for i in range(outer):\n"
        "        row = rows[i]\n"
        + _ROW_BODY[op] +
        "        out[i] = acc\n"
        + (f"    return out.reshape({shape})\n" if kept else "    return out[0]\n")
    )


def _literal_axes(axis, ndim: int) -> tuple[int, ...] | None | str:
    """A tuple axis of integer literals, normalized; None if not one; an error text if NumPy would refuse it."""
    if not isinstance(axis, types.BaseTuple) or not all(isinstance(t, types.IntegerLiteral) for t in axis):
        return None
    axes = [t.literal_value + ndim if t.literal_value < 0 else t.literal_value for t in axis]
    if any(not 0 <= d < ndim for d in axes):
        return "axis is out of bounds for array"
    if len(set(axes)) != len(axes):
        return "duplicate value in 'axis'"
    return tuple(sorted(axes))


def _reduction_source(ndim: int, op: str) -> str:
    """numba code reducing an ndim-array along a runtime axis: move it last, then loop over rows."""
    branches = []
    for k in range(ndim - 1):  # the last axis needs no transpose: the else branch below
        perm = tuple(j for j in range(ndim) if j != k) + (k,)
        keyword = "if" if k == 0 else "elif"
        branches.append(f"    {keyword} ax == {k}:\n        b = np.ascontiguousarray(a.transpose({perm}))")
    body, empty_check = _ROW_BODY[op], _empty_check(op)
    return (
        "def impl(a, axis):\n"
        f"    ax = axis + {ndim} if axis < 0 else axis\n"
        f"    if ax < 0 or ax >= {ndim}:\n"
        "        raise ValueError('axis is out of bounds for array')\n"
        + "".join(line + "\n" for line in branches)
        + ("    else:\n" if branches else "    if True:\n")
        # The identity transpose gives every branch one type (numba must unify them).
        + f"        b = np.ascontiguousarray(a.transpose({tuple(range(ndim))}))\n"
        f"    n = b.shape[{ndim - 1}]\n"
        + empty_check +
        "    outer = 1\n"
        f"    for d in range({ndim - 1}):\n"
        "        outer *= b.shape[d]\n"
        "    rows = b.reshape((outer, n))\n"
        "    out = np.empty(outer, OUT)\n"
        "    for i in range(outer):\n"
        "        row = rows[i]\n"
        + body +
        "        out[i] = acc\n"
        # NumPy returns a scalar, not a 0-d array, when a 1-D array is reduced.
        + ("    return out[0]\n" if ndim == 1 else f"    return out.reshape(b.shape[:{ndim - 1}])\n")
    )


_REDUCTIONS: dict[tuple[int, str, object], object] = {}


def _out_dtype(op: str, dtype) -> np.dtype:
    if op in ("any", "all"):
        return np.dtype(np.bool_)
    if op == "mean":
        return np.dtype(np.float64) if not isinstance(dtype, types.Float) else np.dtype(str(dtype))
    return np.dtype(str(dtype)) if not isinstance(dtype, types.Boolean) else np.dtype(np.bool_)


def _register_axis(op: str) -> None:
    @overload(AXIS_HELPERS[op])
    def _reduce_axis(a, axis):
        if not isinstance(a, types.Array) or a.ndim < 1:
            return None
        axes = _literal_axes(axis, a.ndim)
        if isinstance(axes, str):
            def refuse(a, axis):
                raise ValueError(axes)
            return refuse
        if axes is not None:
            key = (a.ndim, op, str(a.dtype), axes)
            if key not in _REDUCTIONS:
                namespace = {"np": np, "OUT": _out_dtype(op, a.dtype)}
                exec(_tuple_reduction_source(a.ndim, axes, op), namespace)  # noqa: S102 - our own template
                _REDUCTIONS[key] = namespace["impl"]
            return _REDUCTIONS[key]
        if not isinstance(axis, types.Integer):
            return None
        key = (a.ndim, op, str(a.dtype))
        if key not in _REDUCTIONS:
            namespace = {"np": np, "OUT": _out_dtype(op, a.dtype)}
            exec(_reduction_source(a.ndim, op), namespace)  # noqa: S102 - our own template, no program text
            _REDUCTIONS[key] = namespace["impl"]
        return _REDUCTIONS[key]


for _op in AXIS_REDUCTIONS:
    _register_axis(_op)


@overload(__cv_any_of)
def _any_of(iterable):
    def impl(iterable):
        for value in iterable:
            if value:
                return True
        return False
    return impl


@overload(__cv_all_of)
def _all_of(iterable):
    def impl(iterable):
        for value in iterable:
            if not value:
                return False
        return True
    return impl


@overload(__cv_contiguous)
def _contiguous(a):
    if isinstance(a, types.Array):
        return lambda a: np.ascontiguousarray(a)
    return lambda a: a


@overload(__cv_setitem)
def _setitem(a, index, value):
    if (isinstance(a, types.Array) and a.layout == "C" and isinstance(index, types.Array)
            and isinstance(index.dtype, types.Boolean) and 1 < index.ndim <= a.ndim
            and isinstance(value, (types.Number, types.Boolean))):
        nd = index.ndim

        def mask_impl(a, index, value):
            for d in range(nd):
                if a.shape[d] != index.shape[d]:
                    raise IndexError("boolean index did not match indexed array")
            flat_mask = np.ascontiguousarray(index).reshape(-1)
            inner = 1
            for d in range(nd, a.ndim):
                inner *= a.shape[d]
            rows = a.reshape((flat_mask.size, inner))  # a view: writes land in a
            for i in range(flat_mask.size):
                if flat_mask[i]:
                    rows[i, :] = value
        return mask_impl

    def plain(a, index, value):
        a[index] = value
    return plain


# -- comparisons with tuples, and int() ---------------------------------------------------


def _register_tuple_op(name: str, symbol: str) -> None:
    # One template per operator: numba resolves `a - np.asarray(b)` against the real types.
    namespace = {"np": np}
    exec(f"def array_tuple(a, b):\n    return a {symbol} np.asarray(b)\n"  # noqa: S102 - our own template
         f"def tuple_array(a, b):\n    return np.asarray(a) {symbol} b\n"
         f"def plain(a, b):\n    return a {symbol} b\n", namespace)

    @overload(OP_HELPERS[f"__cv_{name}"])
    def _op(a, b):
        if isinstance(a, types.Array) and isinstance(b, types.BaseTuple):
            return namespace["array_tuple"]
        if isinstance(a, types.BaseTuple) and isinstance(b, types.Array):
            return namespace["tuple_array"]
        return namespace["plain"]


for _op_name, _op_symbol in TUPLE_OPS.values():
    _register_tuple_op(_op_name, _op_symbol)


def _sequence(x) -> bool:
    return (isinstance(x, types.Array) and x.ndim == 1) or (isinstance(x, types.BaseTuple) and len(x) > 0)


@overload(COMPARE_HELPERS["__cv_seq_eq"])
def _seq_eq(a, b):
    # tuple(a) == tuple(b) is one bool: equal lengths and equal items, as Python compares tuples.
    if not (_sequence(a) and _sequence(b)):
        return None
    # A pixel against a colour runs per pixel in loop-style checks: index the tuple in
    # place rather than build an array from it on every call.
    indexable = (types.Array, types.UniTuple)
    if isinstance(a, indexable) and isinstance(b, indexable):
        def direct(a, b):
            if len(a) != len(b):
                return False
            for i in range(len(a)):
                if a[i] != b[i]:
                    return False
            return True
        return direct

    def impl(a, b):
        x, y = np.asarray(a), np.asarray(b)
        if x.shape[0] != y.shape[0]:
            return False
        for i in range(x.shape[0]):
            if x[i] != y[i]:
                return False
        return True
    return impl


@overload(COMPARE_HELPERS["__cv_seq_in"])
def _seq_in(a, options):
    if not isinstance(options, types.BaseTuple):
        return None
    from numba import literal_unroll

    seq_eq = COMPARE_HELPERS["__cv_seq_eq"]

    def impl(a, options):
        found = False
        for option in literal_unroll(options):
            if seq_eq(a, option):
                found = True
        return found
    return impl


def _float_array(x) -> bool:
    return isinstance(x, (types.Array, types.BaseTuple))


def _close_arrays(a, b, rtol, atol):
    # NumPy: |a - b| <= atol + rtol * |b| where both are finite, a == b where either is not
    # (equal infinities are close, NaN is close to nothing).
    x = np.asarray(a).astype(np.float64)
    y = np.asarray(b).astype(np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    return np.where(finite, np.abs(x - y) <= atol + rtol * np.abs(y), x == y)


def _close_scalars(a, b, rtol, atol):
    x, y = float(a), float(b)
    if np.isfinite(x) and np.isfinite(y):
        return abs(x - y) <= atol + rtol * abs(y)
    return x == y


_close_jitted = njit(_close_arrays)  # compiled lazily, per argument types, when a program needs it


@overload(COMPARE_HELPERS["__cv_isclose"])
def _isclose(a, b, rtol, atol):
    if _float_array(a) or _float_array(b):
        return lambda a, b, rtol, atol: _close_jitted(a, b, rtol, atol)
    return _close_scalars


@overload(COMPARE_HELPERS["__cv_allclose"])
def _allclose(a, b, rtol, atol):
    if _float_array(a) or _float_array(b):
        return lambda a, b, rtol, atol: _close_jitted(a, b, rtol, atol).all()
    return _close_scalars


@overload(COMPARE_HELPERS["__cv_norm"])
def _norm(x):
    # NumPy turns integers into floats first; numba's norm accepts float arrays only.
    if isinstance(x, types.Array) and not isinstance(x.dtype, types.Float):
        return lambda x: np.linalg.norm(x.astype(np.float64))
    if isinstance(x, types.BaseTuple):
        return lambda x: np.linalg.norm(np.asarray(x).astype(np.float64))
    return lambda x: np.linalg.norm(x)


@overload(COMPARE_HELPERS["__cv_norm_axis"])
def _norm_axis(x, axis):
    # NumPy, for the default order along an axis: sqrt(sum(x * x, axis)) in floating point.
    if not isinstance(x, types.Array) or not isinstance(axis, types.Integer):
        return None

    def impl(x, axis):
        y = x.astype(np.float64)
        return np.sqrt(np.sum(y * y, axis=axis))
    return impl


@overload(COMPARE_HELPERS["__cv_clip"])
def _clip(x, lo, hi):
    if isinstance(x, types.Array):
        return lambda x, lo, hi: np.clip(x, lo, hi)
    if not isinstance(x, (types.Number, types.Boolean)):
        return None

    def number(x, lo, hi):
        # As NumPy's minimum(maximum(x, lo), hi): NaN stays NaN, the result takes the wider type.
        value = x
        if value < lo:
            value = lo
        if value > hi:
            value = hi
        return value
    return number


@overload(COMPARE_HELPERS["__cv_int"])
def _int(x):
    # Python's int() is unbounded and signed: an unsigned pixel becomes a signed number.
    if isinstance(x, types.Integer) and not x.signed:
        return lambda x: np.int64(x)
    return lambda x: int(x)
