"""Rewrites that let numba compile idioms NumPy programmers write every day.

numba's nopython mode rejects several allowed, reasonable spellings: `.any/.all/.max/
.min/.mean` with `axis=`, `.reshape` of a non-contiguous slice, a boolean mask of more
than one dimension on the left of `=`, and generator expressions (`any(x for x in ...)`).
Rejecting a correct program for how it is spelled would make the verifier over-strict
(SECURITY.md), so before numba sees a program these calls are rewritten to helpers
defined here, with NumPy's semantics.

Only the compiled twin is rewritten; the restricted run executes the program as written.
The compile stage compares the two on every suite frame and on random observations, so
a helper that strayed from NumPy would show up as a CV602 difference on that program,
not as a silently different reward.

Helper names start with a double underscore, which the policy forbids in programs: a
program can neither call nor shadow them.  This module imports numba and registers the
helpers' implementations at import time, before the sandbox child drops privileges.
"""
from __future__ import annotations

import ast
import copy

import numpy as np

from numba import types
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


HELPERS = {**{f.__name__: f for f in AXIS_HELPERS.values()}, "__cv_any_of": __cv_any_of, "__cv_all_of": __cv_all_of,
           "__cv_contiguous": __cv_contiguous, "__cv_setitem": __cv_setitem}


# -- the AST rewrite ----------------------------------------------------------------------


def rewrite(tree: ast.Module, numpy_aliases=frozenset(), functions=()) -> ast.Module:
    """A copy of `tree` (already normalized) with the idioms above turned into helper calls."""
    tree = _Rewrite(frozenset(numpy_aliases), frozenset(functions)).visit(copy.deepcopy(tree))
    return ast.fix_missing_locations(tree)


def _name(id_: str, like: ast.AST) -> ast.Name:
    return ast.copy_location(ast.Name(id=id_, ctx=ast.Load()), like)


def _call(helper: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(func=_name(helper, like), args=args, keywords=[]), like)


class _Rewrite(ast.NodeTransformer):
    def __init__(self, numpy_aliases: frozenset[str], functions: frozenset[str]):
        self.numpy = numpy_aliases
        self.functions = functions  # a program's own function named like a builtin is left alone
        self.masks: frozenset[str] = frozenset()  # names the current function binds only to masks

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        func = node.func
        # x.op(axis) / x.op(axis=k) and np.op(x, axis) / np.op(x, axis=k)
        if isinstance(func, ast.Attribute) and func.attr in AXIS_REDUCTIONS:
            on_numpy = isinstance(func.value, ast.Name) and func.value.id in self.numpy
            args = list(node.args)
            target = args.pop(0) if on_numpy and args else (None if on_numpy else func.value)
            axis = _only_axis(args, node.keywords)
            if target is not None and axis is not None:
                return _call(f"__cv_{func.attr}_axis", [target, axis], node)
        # x.reshape(...) / np.reshape(x, ...): numba reshapes C-contiguous arrays only
        if isinstance(func, ast.Attribute) and func.attr == "reshape":
            if isinstance(func.value, ast.Name) and func.value.id in self.numpy:
                if node.args:
                    node.args[0] = _call("__cv_contiguous", [node.args[0]], node)
            else:
                func.value = _call("__cv_contiguous", [func.value], node)
            return node
        # any(...) / all(...) and builtins fed by a generator expression
        if isinstance(func, ast.Name) and func.id in CONSUMERS and func.id not in self.functions:
            if len(node.args) == 1 and isinstance(node.args[0], ast.GeneratorExp):
                gen = node.args[0]
                node.args[0] = ast.copy_location(ast.ListComp(elt=gen.elt, generators=gen.generators), gen)
            if func.id in ("any", "all") and len(node.args) == 1 and not node.keywords:
                return _call(f"__cv_{func.id}_of", node.args, node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef):
        # Names this function only ever binds to mask expressions: `m[mask] = v` may use them.
        bound: dict[str, list[ast.expr]] = {}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Name):
                        bound.setdefault(target.id, []).append(sub.value)
            elif isinstance(sub, (ast.For, ast.comprehension)) and isinstance(sub.target, ast.Name):
                bound.setdefault(sub.target.id, []).append(sub.target)  # a loop variable is no mask
        outer, self.masks = self.masks, frozenset(
            name for name, values in bound.items() if all(_mask_like(v) for v in values))
        self.generic_visit(node)
        self.masks = outer
        return node

    def visit_Assign(self, node: ast.Assign):
        # a[mask] = v: numba stores through 1-D masks only; the helper handles any rank.  Only
        # indexes that are visibly masks are rewritten: through a call, numba could no longer
        # infer the types of an empty dict or list from what is stored in it.
        self.generic_visit(node)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0]
            index = target.slice
            if _mask_like(index) or (isinstance(index, ast.Name) and index.id in self.masks):
                array = copy.deepcopy(target.value)
                array.ctx = ast.Load()
                return ast.copy_location(ast.Expr(_call("__cv_setitem", [array, index, node.value], node)), node)
        return node


def _mask_like(node: ast.expr) -> bool:
    """An expression that can only be a boolean array or a bool: a comparison, or &, |, ^, ~ of such."""
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
        return _mask_like(node.left) or _mask_like(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return _mask_like(node.operand)
    return False


def _only_axis(args: list[ast.expr], keywords: list[ast.keyword]) -> ast.expr | None:
    if len(args) == 1 and not keywords:
        return args[0]
    if not args and len(keywords) == 1 and keywords[0].arg == "axis":
        return keywords[0].value
    return None


# -- helper implementations (typed by numba at compile time) ------------------------------


def _reduction_source(ndim: int, op: str) -> str:
    """numba code reducing an ndim-array along a runtime axis: move it last, then loop over rows."""
    branches = []
    for k in range(ndim - 1):  # the last axis needs no transpose: the else branch below
        perm = tuple(j for j in range(ndim) if j != k) + (k,)
        keyword = "if" if k == 0 else "elif"
        branches.append(f"    {keyword} ax == {k}:\n        b = np.ascontiguousarray(a.transpose({perm}))")
    body = {
        "any": "        acc = False\n        for j in range(n):\n            if row[j]:\n                acc = True\n"
               "                break\n",
        "all": "        acc = True\n        for j in range(n):\n            if not row[j]:\n                acc = False\n"
               "                break\n",
        "max": "        acc = row[0]\n        for j in range(1, n):\n            if row[j] > acc or row[j] != row[j]:\n"
               "                acc = row[j]\n",
        "min": "        acc = row[0]\n        for j in range(1, n):\n            if row[j] < acc or row[j] != row[j]:\n"
               "                acc = row[j]\n",
        "mean": "        acc = 0.0\n        for j in range(n):\n            acc += row[j]\n        acc = acc / n\n",
    }[op]
    empty_check = ("    if n == 0:\n        raise ValueError('zero-size array to reduction operation "
                   "which has no identity')\n") if op in ("max", "min") else ""
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
        if not isinstance(a, types.Array) or a.ndim < 1 or not isinstance(axis, types.Integer):
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
