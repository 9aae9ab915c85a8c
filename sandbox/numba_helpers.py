"""The helpers sandbox/numba_compat.py rewrites programs to call, with NumPy's semantics.

Each is a stub a program can never name (a double-underscore name, which the policy
forbids) with a numba `@overload` that picks an implementation by the argument types at
compile time.  Importing this module registers them, before the sandbox child drops
privileges; HELPERS is what a compiled program's globals must hold.
"""
from __future__ import annotations

import ast
import operator

import numpy as np

from numba import literal_unroll, literally, njit, types
from numba.core.errors import TypingError
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


# An array and a tuple under a comparison: NumPy makes the tuple an array.
COMPARE_OPS = {ast.Eq: ("eq", "=="), ast.NotEq: ("ne", "!="), ast.Lt: ("lt", "<"), ast.LtE: ("le", "<="),
               ast.Gt: ("gt", ">"), ast.GtE: ("ge", ">=")}
OP_HELPERS = {f"__cv_{name}": _stub(f"__cv_{name}") for name, _ in COMPARE_OPS.values()}

# Arithmetic whose operands include a Python number, a tuple, or an int that may overflow
# (sandbox/numba_compat.py decides which): one helper per operator, per which operands the
# source shows to be NumPy values ("n") or not ("p"), plain or in place (`+=`).
ARITH_OPS = {ast.Add: ("add", "+"), ast.Sub: ("sub", "-"), ast.Mult: ("mul", "*"), ast.Div: ("truediv", "/"),
             ast.FloorDiv: ("floordiv", "//"), ast.Mod: ("mod", "%"), ast.Pow: ("pow", "**"),
             ast.LShift: ("lshift", "<<"), ast.RShift: ("rshift", ">>"), ast.BitAnd: ("and", "&"),
             ast.BitOr: ("or", "|"), ast.BitXor: ("xor", "^")}
_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
           "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power, "lshift": np.left_shift,
           "rshift": np.right_shift, "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


def arith_helper(op_type, left_numpy: bool, right_numpy: bool, in_place: bool) -> str:
    name = ARITH_OPS[op_type][0]
    return f"__cv_{'i' if in_place else ''}{name}_{'n' if left_numpy else 'p'}{'n' if right_numpy else 'p'}"


ARITH_HELPERS = {arith_helper(op, ln, rn, ip): _stub(arith_helper(op, ln, rn, ip))
                 for op in ARITH_OPS for ln in (False, True) for rn in (False, True) for ip in (False, True)}

# tuple(p) == t, tuple(p) in ts; int(x), round(x), -x; np.isclose/np.allclose (numba's own crash on broadcast
# shapes); np.linalg.norm of integers or along an axis (numba's takes float arrays and no axis); np.clip of a number
COMPARE_HELPERS = {name: _stub(name) for name in ("__cv_seq_eq", "__cv_seq_in", "__cv_int", "__cv_round", "__cv_neg",
                                                  "__cv_isclose", "__cv_allclose", "__cv_norm", "__cv_norm_axis",
                                                  "__cv_clip")}
CLOSE_DEFAULTS = (("rtol", 1e-05), ("atol", 1e-08))   # NumPy's

# A Python type where NumPy takes a dtype means NumPy's default for it; numba wants the dtype.
DTYPE_NAMES = {"int": "__cv_dtype_int", "float": "__cv_dtype_float", "bool": "__cv_dtype_bool"}
DTYPES = {"__cv_dtype_int": np.dtype(int).type, "__cv_dtype_float": np.dtype(float).type,
          "__cv_dtype_bool": np.bool_}

HELPERS = {**{f.__name__: f for f in AXIS_HELPERS.values()}, "__cv_any_of": __cv_any_of, "__cv_all_of": __cv_all_of,
           "__cv_contiguous": __cv_contiguous, "__cv_setitem": __cv_setitem, **OP_HELPERS, **ARITH_HELPERS,
           **COMPARE_HELPERS, **DTYPES,
           # Dicts whose values numba types differently: loops over them unrolled, lookups per literal key.
           "__cv_unroll": literal_unroll, "__cv_literally": literally}


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


for _op_name, _op_symbol in COMPARE_OPS.values():
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


# -- int(x), round(x), -x: Python's refusals instead of INT64_MIN ---------------------------

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
_OVERFLOW = "integer overflow: Python's int is unbounded, the compiled check's is 64 bits"
_BEYOND_INT64 = "int() of a number outside int64: Python's int is unbounded, the compiled check's is 64 bits"


def _base(t):
    return getattr(t, "literal_type", t)   # Literal[int](3) -> int64


def _float_to_int(x):
    # Python raises where numba's conversion returns INT64_MIN.
    if x != x:
        raise ValueError("cannot convert float NaN to integer")
    if x == np.inf or x == -np.inf:
        raise OverflowError("cannot convert float infinity to integer")
    if x >= 9.223372036854775808e18 or x < -9.223372036854775808e18:
        raise OverflowError(_BEYOND_INT64)


_float_to_int_jit = njit(_float_to_int)


def _unsigned_to_int(x):
    if x > np.uint64(INT64_MAX):
        raise OverflowError(_BEYOND_INT64)
    return np.int64(x)


_unsigned_to_int_jit = njit(_unsigned_to_int)


@overload(COMPARE_HELPERS["__cv_int"])
def _int(x):
    # Python's int() is unbounded and signed: an unsigned pixel becomes a signed number.
    base = _base(x)
    if isinstance(base, types.Integer) and not base.signed:
        return lambda x: _unsigned_to_int_jit(x)
    if isinstance(base, types.Float):
        def from_float(x):
            _float_to_int_jit(x)
            return int(x)
        return from_float
    return lambda x: int(x)


@overload(COMPARE_HELPERS["__cv_round"])
def _round(x):
    # round(x) is Python's half-even integer in numba too; only its refusals differ.
    base = _base(x)
    if isinstance(base, types.Float):
        def from_float(x):
            _float_to_int_jit(x)
            return round(x)
        return from_float
    if isinstance(base, types.Integer) and not base.signed:
        return lambda x: _unsigned_to_int_jit(x)
    return lambda x: int(x)


@overload(COMPARE_HELPERS["__cv_neg"])
def _neg(x):
    base = _base(x)
    if isinstance(base, types.Integer) and base.signed and base.bitwidth == 64:
        def checked(x):
            if x == INT64_MIN:
                raise OverflowError(_OVERFLOW)
            return -x
        return checked
    if isinstance(base, types.Boolean):
        return lambda x: -int(x)
    return lambda x: -x


# -- arithmetic: NEP 50 beside NumPy values, no silent int64 overflow ------------------------
# numba types a Python int as int64 and promotes like NumPy 1 did: uint8 + int64 -> int64.
# NumPy 2 treats a Python number as "weak" (NEP 50): the NumPy operand's dtype wins, and a
# Python int that does not fit it is an OverflowError.  And a Python int never overflows.

_NARROW = frozenset(np.dtype(t) for t in ("int8", "int16", "int32", "uint8", "uint16", "uint32", "uint64", "float32"))
_PYTHON_TYPES = frozenset(np.dtype(t) for t in ("int64", "float64", "bool"))   # how numba types int, float, bool
_OPERATORS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
              "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow, "lshift": operator.lshift,
              "rshift": operator.rshift, "and": operator.and_, "or": operator.or_, "xor": operator.xor}
_NEGATIVE_POWER = "Integers to negative integer powers are not allowed."   # NumPy's words


def _dtype_of(t) -> np.dtype | None:
    base = _base(t)
    if isinstance(base, types.Array):
        base = base.dtype
    if isinstance(base, (types.Integer, types.Float, types.Boolean)):
        return np.dtype(str(base))
    return None


def _python_number(t, numpy_side: bool) -> bool:
    """In the interpreted run, a Python int/float/bool: the source did not show it to be NumPy's,
    and numba types it as Python numbers are typed (a uint8 or float32 scalar can only be NumPy's)."""
    return not numpy_side and not isinstance(t, types.Array) and _dtype_of(t) in _PYTHON_TYPES


def _numpy_result(name: str, a, b, weak_a: bool, weak_b: bool) -> np.dtype | None:
    """NumPy's own answer for the result dtype, from samples of the operand types.

    None when the result is a Python number or NumPy refuses the combination."""
    samples = []
    for t, weak in ((a, weak_a), (b, weak_b)):
        dtype = _dtype_of(t)
        if isinstance(t, types.Array):
            samples.append(np.ones(1, dtype))
        elif weak:
            samples.append({"b": True, "i": 1, "u": 1, "f": 1.0}[dtype.kind])
        else:
            samples.append(dtype.type(1))
    try:
        with np.errstate(all="ignore"):
            out = _OPERATORS[name](*samples)
    except Exception:  # noqa: BLE001 - NumPy refuses the combination: numba will too, as written
        return None
    return out.dtype if isinstance(out, (np.ndarray, np.generic)) else None


def _checked_mul_impl(x, y):
    # Bounds first: numba marks int64 arithmetic as non-wrapping, so LLVM may fold a check
    # made on the wrapped product ((x * y) // y == x) to true.
    if x == 0 or y == 0:
        return np.int64(0)
    ax = np.uint64(x) if x >= 0 else np.uint64(-(x + 1)) + np.uint64(1)
    ay = np.uint64(y) if y >= 0 else np.uint64(-(y + 1)) + np.uint64(1)
    limit = np.uint64(INT64_MAX) + np.uint64(1) if (x < 0) != (y < 0) else np.uint64(INT64_MAX)
    if ax > limit // ay:
        raise OverflowError(_OVERFLOW)
    return x * y


_checked_mul = njit(_checked_mul_impl)


def _python_int_source(name: str) -> str | None:
    """Python's int semantics for two int64 operands, refusing what does not fit instead of wrapping."""
    head = "def impl(a, b):\n    x = np.int64(a)\n    y = np.int64(b)\n"
    body = {
        # Bounds before the operation, never on a wrapped result (see _checked_mul_impl).
        "add": "    if (y > 0 and x > INT64_MAX - y) or (y < 0 and x < INT64_MIN - y):\n"
               "        raise OverflowError(OVERFLOW)\n    return x + y\n",
        "sub": "    if (y < 0 and x > INT64_MAX + y) or (y > 0 and x < INT64_MIN + y):\n"
               "        raise OverflowError(OVERFLOW)\n    return x - y\n",
        "mul": "    return checked_mul(x, y)\n",
        "floordiv": "    if y == 0:\n        raise ZeroDivisionError('integer division or modulo by zero')\n"
                    "    if y == -1:\n        if x == INT64_MIN:\n            raise OverflowError(OVERFLOW)\n"
                    "        return -x\n    return x // y\n",
        "mod": "    if y == 0:\n        raise ZeroDivisionError('integer modulo by zero')\n"
               "    if y == -1:\n        return np.int64(0)\n    return x % y\n",
        "pow": "    if y < 0:\n        raise ValueError('a negative integer exponent the source does not fix')\n"
               "    result = np.int64(1)\n    base = x\n    e = y\n    while e > 0:\n"
               "        if e & 1:\n            result = checked_mul(result, base)\n        e = e >> 1\n"
               "        if e > 0:\n            base = checked_mul(base, base)\n    return result\n",
        "lshift": "    if y < 0:\n        raise ValueError('negative shift count')\n    if x == 0:\n"
                  "        return np.int64(0)\n    if y >= 63:\n        raise OverflowError(OVERFLOW)\n"
                  "    if x > (INT64_MAX >> y) or x < (INT64_MIN >> y):\n        raise OverflowError(OVERFLOW)\n"
                  "    return x << y\n",
        "rshift": "    if y < 0:\n        raise ValueError('negative shift count')\n"
                  "    return x >> min(y, np.int64(63))\n",
    }.get(name)
    return None if body is None else head + body


def _narrow_source(name: str, dtype: np.dtype, weak_a: bool, weak_b: bool, a_kind: str, b_kind: str,
                   array_a: bool, array_b: bool, in_place: bool) -> str:
    """A Python number meets a NumPy value of a narrow dtype: NumPy 2 computes in that dtype."""
    lines = ["def impl(a, b):"]
    for var, weak, kind in (("a", weak_a, a_kind), ("b", weak_b, b_kind)):
        if weak and kind == "i" and dtype.kind in "iu":
            if dtype.kind == "u" and dtype.itemsize == 8:
                lines.append(f"    if {var} < 0:")
            else:
                info = np.iinfo(dtype)
                lines.append(f"    if {var} < {int(info.min)} or {var} > {int(info.max)}:")
            lines.append(f"        raise OverflowError('Python integer out of bounds for {dtype}')")
    if name == "pow" and dtype.kind == "i":
        lines.append("    if b < 0:\n        raise ValueError(NEGATIVE_POWER)")
    x = "a" if array_a else "CAST(a)"
    y = "b" if array_b else "CAST(b)"
    # np.<ufunc> spelled by name: the helper cache (sandbox/helper_cache.py) identifies globals it can name.
    ufunc = f"np.{_UFUNCS[name].__name__}"
    if in_place and array_a:
        lines.append(f"    {ufunc}(a, {y}, a)\n    return a")
    else:
        lines.append(f"    return {ufunc}({x}, {y})")
    return "\n".join(lines) + "\n"


_IMPLS: dict[tuple, object] = {}


def _template(key: tuple, source: str, **names):
    if key not in _IMPLS:
        namespace = {"np": np, "OVERFLOW": _OVERFLOW, "INT64_MIN": INT64_MIN, "INT64_MAX": INT64_MAX,
                     "NEGATIVE_POWER": _NEGATIVE_POWER,
                     "checked_mul": _checked_mul, **names}
        exec(source, namespace)  # noqa: S102 - our own templates, no program text
        _IMPLS[key] = namespace["impl"]
    return _IMPLS[key]


def _plain_source(symbol: str, in_place: bool, array_a: bool, tuple_side: str | None) -> str:
    left = "np.asarray(a)" if tuple_side == "a" else "a"
    right = "np.asarray(b)" if tuple_side == "b" else "b"
    if in_place and array_a:
        return f"def impl(a, b):\n    a {symbol}= {right}\n    return a\n"
    return f"def impl(a, b):\n    return {left} {symbol} {right}\n"


def _arith(name: str, symbol: str, left_numpy: bool, right_numpy: bool, in_place: bool, a, b):
    array_a = isinstance(a, types.Array)
    tuple_side = ("b" if array_a and isinstance(b, types.BaseTuple) else
                  "a" if isinstance(a, types.BaseTuple) and isinstance(b, types.Array) else None)
    plain = _template(("plain", symbol, in_place, array_a, tuple_side),
                      _plain_source(symbol, in_place, array_a, tuple_side))
    x, y = _dtype_of(a), _dtype_of(b)
    if tuple_side or x is None or y is None:
        return plain
    weak_a, weak_b = _python_number(a, left_numpy), _python_number(b, right_numpy)
    if name == "pow":
        special = _power(a, b, x, y, weak_a)
        if special is not None:
            return special
    if weak_a and weak_b:
        if x.kind in "bi" and y.kind in "bi":
            source = _python_int_source(name)
            return plain if source is None else _template(("int", name), source)
        return plain
    result = _numpy_result(name, a, b, weak_a, weak_b)
    if result is None or result not in _NARROW or not (weak_a or weak_b):
        return plain   # numba promotes as NumPy does: two NumPy values, or a result of int64/float64/bool
    array_b = isinstance(b, types.Array)
    return _template(("narrow", name, str(result), weak_a, weak_b, x.kind, y.kind, array_a, array_b, in_place),
                     _narrow_source(name, result, weak_a, weak_b, x.kind, y.kind, array_a, array_b, in_place),
                     CAST=result.type)


def _power(a, b, x: np.dtype, y: np.dtype, weak_a: bool):
    """int ** negative int: a float for a Python int base (2 ** -1 == 0.5), NumPy's refusal for a NumPy int."""
    exponent = b.literal_value if isinstance(b, types.IntegerLiteral) else None
    if exponent is None or exponent >= 0 or x.kind not in "biu":
        return None
    if weak_a:
        return lambda a, b: float(a) ** b   # 0 ** -1 raises ZeroDivisionError, as in Python
    if x.kind == "u":
        return None   # the narrow path refuses -1 for an unsigned dtype, as NumPy does (OverflowError)

    def refuse(a, b):
        raise ValueError(_NEGATIVE_POWER)
    return refuse


def _register_arith(name: str, symbol: str, left_numpy: bool, right_numpy: bool, in_place: bool) -> None:
    stub = ARITH_HELPERS[arith_helper(_OP_TYPES[name], left_numpy, right_numpy, in_place)]

    # The exponent's value decides the result type of int ** int: numba must show it (a literal).
    @overload(stub, prefer_literal=(name == "pow"))
    def _op(a, b):
        return _arith(name, symbol, left_numpy, right_numpy, in_place, a, b)


_OP_TYPES = {name: op for op, (name, _) in ARITH_OPS.items()}
for _name, _symbol in ARITH_OPS.values():
    for _left in (False, True):
        for _right in (False, True):
            for _in_place in (False, True):
                _register_arith(_name, _symbol, _left, _right, _in_place)


# -- dicts of constants whose values numba types differently ----------------------------------


def register_dict_lookups(name: str, mapping: dict):
    """item(key) and get(key, default) for one such dict: a key known at compile time gets its own value's type."""
    item, get = _stub(f"__cv_d_{name}_item"), _stub(f"__cv_d_{name}_get")
    needs_literal = (f"{name}[key]: the values of '{name}' have different shapes, so numba needs the key when it "
                     "compiles: a literal, or a parameter its callers give literal keys")

    def literal(key):
        return key.literal_value if isinstance(key, (types.StringLiteral, types.IntegerLiteral)) else None

    @overload(item, prefer_literal=True)
    def _item(key):
        k = literal(key)
        if k is None:
            raise TypingError(needs_literal)
        if k not in mapping:
            def missing(key):
                raise KeyError("no such key")
            return missing
        value = mapping[k]
        return lambda key: value

    @overload(get, prefer_literal=True)
    def _get(key, default):
        k = literal(key)
        if k is None:
            raise TypingError(needs_literal)
        if k not in mapping:
            return lambda key, default: default
        value = mapping[k]
        return lambda key, default: value

    return item, get
