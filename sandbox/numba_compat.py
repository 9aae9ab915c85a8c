"""Rewrites that let numba compile idioms NumPy programmers write every day.

numba's nopython mode rejects several allowed, reasonable spellings: `.any/.all/.max/
.min/.mean` with `axis=`, `.reshape` of a non-contiguous slice, a boolean mask of more
than one dimension on the left of `=`, generator expressions (`any(x for x in ...)`),
Python types as dtypes (`.astype(int)`), and an array or `tuple(pixel)` compared with a
tuple (`obs == (255, 255, 0)`).  One it accepts but computes differently: `int(x)` of an
unsigned integer is a uint64 in numba, so `int(r) - int(b)` wraps where Python's does not.
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


# -- the AST rewrite ----------------------------------------------------------------------


def rewrite(tree: ast.Module, numpy_aliases=frozenset(), functions=()) -> ast.Module:
    """A copy of `tree` (already normalized) with the idioms above turned into helper calls."""
    tree = _dict_constants(copy.deepcopy(tree))
    tuples = frozenset(_tuple_names(tree))
    params = _tuple_parameters(tree, tuples)
    tree = _Rewrite(frozenset(numpy_aliases), frozenset(functions), tuples, params).visit(tree)
    return ast.fix_missing_locations(tree)


DICT_PREFIX = "__cv_d_"


def jit_generated(namespace: dict, jit) -> None:
    """Compile the lookup functions _dict_constants wrote into the module (numba calls only jitted code)."""
    for name, value in list(namespace.items()):
        if name.startswith(DICT_PREFIX) and callable(value):
            namespace[name] = jit(value)


def _dict_constants(tree: ast.Module) -> ast.Module:
    """Module-level dicts of constants, which numba cannot take as globals, spelled as tuples.

    COLOURS = {"key": (255, 255, 0), ...} gains one constant per value, tuples of its keys,
    values and items, and lookup functions; in functions, COLOURS["key"] becomes the
    value's constant, COLOURS[k] and COLOURS.get(k) a lookup, .items()/.keys()/.values()
    the tuples, and `for k in COLOURS`, `k in COLOURS`, len(COLOURS) the keys.  Any other
    use is left as written, for numba to refuse (CV601) rather than to compute differently.
    """
    body, dicts = [], {}
    for node in tree.body:
        body.append(node)
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Dict) and node.value.keys
                and all(isinstance(k, ast.Constant) for k in node.value.keys)
                and len({type(k.value) for k in node.value.keys}) == 1):
            name = node.targets[0].id
            keys = [k.value for k in node.value.keys]
            dicts[name] = keys
            body += [ast.Assign(targets=[ast.Name(f"{DICT_PREFIX}{name}_{i}", ast.Store())], value=copy.deepcopy(value))
                     for i, value in enumerate(node.value.values)]
            body += ast.parse(_dict_source(name, keys)).body
    tree.body = body
    if dicts:
        _DictUses(dicts).visit(tree)
    return tree


def _dict_source(name: str, keys: list) -> str:
    p = f"{DICT_PREFIX}{name}_"
    values = "".join(f"{p}{i}, " for i in range(len(keys)))
    items = "".join(f"({k!r}, {p}{i}), " for i, k in enumerate(keys))
    chain = "".join(f"    if key == {k!r}:\n        return {p}{i}\n" for i, k in enumerate(keys))
    return (f"{p}keys = ({''.join(f'{k!r}, ' for k in keys)})\n{p}values = ({values})\n{p}items = ({items})\n"
            f"def {p}item(key):\n{chain}    raise KeyError('{name}: no such key')\n"
            f"def {p}get(key, default):\n{chain}    return default\n")


class _DictUses(ast.NodeTransformer):
    def __init__(self, dicts: dict[str, list]):
        self.dicts = dicts
        self.shadowed: frozenset[str] = frozenset()

    def visit_FunctionDef(self, node: ast.FunctionDef):
        if node.name.startswith(DICT_PREFIX):
            return node
        params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        self.shadowed = frozenset(params | set(_bindings(node)))
        self.generic_visit(node)
        self.shadowed = frozenset()
        return node

    def ours(self, node) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.dicts and node.id not in self.shadowed:
            return node.id
        return None

    def generated(self, name: str, part: str, like: ast.AST) -> ast.Name:
        return _name(f"{DICT_PREFIX}{name}_{part}", like)

    def visit_Subscript(self, node: ast.Subscript):
        self.generic_visit(node)
        name = self.ours(node.value)
        if name is None or not isinstance(node.ctx, ast.Load):
            return node
        key = node.slice
        if isinstance(key, ast.Constant) and key.value in self.dicts[name]:
            return self.generated(name, str(self.dicts[name].index(key.value)), node)
        return _call(f"{DICT_PREFIX}{name}_item", [key], node)

    def visit_Call(self, node: ast.Call):
        func = node.func
        name = self.ours(func.value) if isinstance(func, ast.Attribute) else None
        if name is not None and not node.keywords:
            if func.attr in ("items", "keys", "values") and not node.args:
                self._visit_all(node.args)
                return self.generated(name, func.attr, node)
            if func.attr == "get" and 1 <= len(node.args) <= 2:
                self._visit_all(node.args)
                default = node.args[1] if len(node.args) == 2 else ast.copy_location(ast.Constant(None), node)
                return _call(f"{DICT_PREFIX}{name}_get", [node.args[0], default], node)
        if isinstance(func, ast.Name) and func.id == "len" and len(node.args) == 1 and self.ours(node.args[0]):
            node.args[0] = self.generated(node.args[0].id, "keys", node)
        self.generic_visit(node)
        return node

    def _visit_all(self, nodes):
        for i, child in enumerate(nodes):
            nodes[i] = self.visit(child)

    def visit_For(self, node: ast.For):
        if self.ours(node.iter):
            node.iter = self.generated(node.iter.id, "keys", node.iter)
        self.generic_visit(node)
        return node

    def visit_comprehension(self, node: ast.comprehension):
        if self.ours(node.iter):
            node.iter = self.generated(node.iter.id, "keys", node.iter)
        self.generic_visit(node)
        return node

    def visit_Compare(self, node: ast.Compare):
        for i, (op, right) in enumerate(zip(node.ops, node.comparators)):
            if isinstance(op, (ast.In, ast.NotIn)) and self.ours(right):
                node.comparators[i] = self.generated(right.id, "keys", right)
        self.generic_visit(node)
        return node


def _tuple_parameters(tree: ast.Module, tuples: frozenset[str]) -> dict[str, frozenset[str]]:
    """Per function, the parameters some call in the program passes a tuple: `distance(obs, KEY)`.

    Followed through helpers that hand a tuple parameter on.  Over-marking costs nothing but
    a call: the helpers fall back to the plain operator for anything but an array and a tuple.
    """
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    marked: dict[str, set[str]] = {name: set() for name in functions}

    def tuple_like(arg: ast.expr, caller: str | None) -> bool:
        return isinstance(arg, ast.Tuple) or (isinstance(arg, ast.Name) and (
            arg.id in tuples or (caller is not None and arg.id in marked[caller])))

    changed = True
    while changed:
        changed = False
        for caller, fn in [(None, tree), *functions.items()]:
            for call in ast.walk(fn):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in functions):
                    continue
                callee = functions[call.func.id]
                names = [a.arg for a in callee.args.posonlyargs + callee.args.args]
                passed = list(zip(names, call.args)) + [(k.arg, k.value) for k in call.keywords if k.arg]
                for name, arg in passed:
                    if name not in marked[callee.name] and tuple_like(arg, caller):
                        marked[callee.name].add(name)
                        changed = True
    return {name: frozenset(found) for name, found in marked.items()}


def _bindings(root: ast.AST) -> dict[str, list[ast.expr]]:
    """What each name is bound to below `root`: the assigned expression, or the Name node
    itself where the value is not one expression (unpacking, loop targets, augmented assignment)."""
    bound: dict[str, list[ast.expr]] = {}

    def opaque(target: ast.AST) -> None:
        # Only the names a target binds: `a, (b, *c)` binds three; `m[i]` and `o.x` bind none.
        if isinstance(target, ast.Name):
            bound.setdefault(target.id, []).append(target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                opaque(element)
        elif isinstance(target, ast.Starred):
            opaque(target.value)

    for node in ast.walk(root):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    bound.setdefault(target.id, []).append(node.value)
                else:
                    opaque(target)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            bound.setdefault(node.target.id, []).append(node.value)
        elif isinstance(node, ast.AugAssign):
            opaque(node.target)
        elif isinstance(node, (ast.For, ast.comprehension)):
            opaque(node.target)
    return bound


def _tuple_names(tree: ast.Module):
    """Names the program binds only to tuple displays, anywhere: `KEY = (255, 255, 0)`."""
    return (name for name, values in _bindings(tree).items() if all(isinstance(v, ast.Tuple) for v in values))


def _name(id_: str, like: ast.AST) -> ast.Name:
    return ast.copy_location(ast.Name(id=id_, ctx=ast.Load()), like)


def _call(helper: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(func=_name(helper, like), args=args, keywords=[]), like)


class _Rewrite(ast.NodeTransformer):
    def __init__(self, numpy_aliases: frozenset[str], functions: frozenset[str], tuples: frozenset[str],
                 tuple_params: dict[str, frozenset[str]]):
        self.numpy = numpy_aliases
        self.functions = functions  # a program's own function named like a builtin is left alone
        self.module_tuples = self.tuples = tuples  # names bound only to tuple displays
        self.tuple_params = tuple_params           # and, per function, parameters given tuples
        self.masks: frozenset[str] = frozenset()  # names the current function binds only to masks

    def builtin(self, node: ast.expr, name: str) -> bool:
        return isinstance(node, ast.Name) and node.id == name and name not in self.functions

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        func = node.func
        # .astype(int) / dtype=float: the Python type stands for NumPy's default dtype of that kind
        if isinstance(func, ast.Attribute) and func.attr == "astype" and node.args:
            node.args[0] = self._dtype(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "dtype":
                keyword.value = self._dtype(keyword.value)
        # np.isclose(a, b[, rtol, atol]) / np.allclose(...): NumPy's formula, broadcasting like NumPy
        if (isinstance(func, ast.Attribute) and func.attr in ("isclose", "allclose")
                and isinstance(func.value, ast.Name) and func.value.id in self.numpy):
            close = self._isclose(node, f"__cv_{func.attr}")
            if close is not None:
                return close
        # np.clip(x, lo, hi) / x.clip(lo, hi): numba clips arrays only, and progress clips a number
        if isinstance(func, ast.Attribute) and func.attr == "clip" and not node.keywords:
            on_numpy = isinstance(func.value, ast.Name) and func.value.id in self.numpy
            args = node.args if on_numpy else [func.value, *node.args]
            if len(args) == 3:
                return _call("__cv_clip", list(args), node)
        # np.linalg.norm(x) / np.linalg.norm(x, axis=k)
        if (isinstance(func, ast.Attribute) and func.attr == "norm" and isinstance(func.value, ast.Attribute)
                and func.value.attr == "linalg" and isinstance(func.value.value, ast.Name)
                and func.value.value.id in self.numpy and len(node.args) == 1):
            if not node.keywords:
                return _call("__cv_norm", node.args, node)
            axis = _only_axis([], node.keywords)
            if axis is not None:
                return _call("__cv_norm_axis", [node.args[0], axis], node)
        # int(x): numba keeps an unsigned x unsigned (uint64), so int(r) - int(b) would wrap
        if self.builtin(func, "int") and len(node.args) == 1 and not node.keywords:
            return _call("__cv_int", node.args, node)
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

    def _isclose(self, node: ast.Call, helper: str) -> ast.Call | None:
        names = ("a", "b") + tuple(name for name, _ in CLOSE_DEFAULTS)
        given = dict(zip(names, node.args))
        for keyword in node.keywords:
            if keyword.arg not in names[2:] or keyword.arg in given:
                return None  # equal_nan=, or a spelling NumPy itself would refuse: leave it to numba
            given[keyword.arg] = keyword.value
        if len(node.args) > len(names) or "a" not in given or "b" not in given:
            return None
        for name, default in CLOSE_DEFAULTS:
            given.setdefault(name, ast.copy_location(ast.Constant(default), node))
        return _call(helper, [given[name] for name in names], node)

    def _dtype(self, node: ast.expr) -> ast.expr:
        for python_type, helper in DTYPE_NAMES.items():
            if self.builtin(node, python_type):
                return _name(helper, node)
        return node

    def visit_Compare(self, node: ast.Compare):
        self.generic_visit(node)
        if len(node.ops) != 1:
            return node  # a chained comparison is left as written
        op, left, right = node.ops[0], node.left, node.comparators[0]
        if isinstance(op, (ast.Eq, ast.NotEq)):
            # tuple(pixel) == KEY: a sequence comparison, one bool
            if self._tuple_call(left) or self._tuple_call(right):
                test = _call("__cv_seq_eq", [self._unwrap(left), self._unwrap(right)], node)
                return test if isinstance(op, ast.Eq) else ast.copy_location(ast.UnaryOp(ast.Not(), test), node)
        if isinstance(op, (ast.In, ast.NotIn)) and self._tuple_call(left) and self._tuple(right):
            test = _call("__cv_seq_in", [self._unwrap(left), right], node)
            return test if isinstance(op, ast.In) else ast.copy_location(ast.UnaryOp(ast.Not(), test), node)
        return self._with_tuple(node, op, left, right)

    def visit_BinOp(self, node: ast.BinOp):
        self.generic_visit(node)
        return self._with_tuple(node, node.op, node.left, node.right)

    def _with_tuple(self, node, op, left, right):
        # pixels == KEY, obs - KEY: NumPy works element-wise against the tuple as an array.
        # Only where a side is visibly a tuple; two tuples (or tuple * n) keep Python's meaning.
        if type(op) in TUPLE_OPS and (self._tuple(left) or self._tuple(right)):
            return _call(f"__cv_{TUPLE_OPS[type(op)][0]}", [left, right], node)
        return node

    def _tuple(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Tuple) or (isinstance(node, ast.Name) and node.id in self.tuples)

    def _tuple_call(self, node: ast.expr) -> bool:
        return (isinstance(node, ast.Call) and self.builtin(node.func, "tuple") and len(node.args) == 1
                and not node.keywords)

    def _unwrap(self, node: ast.expr) -> ast.expr:
        return node.args[0] if self._tuple_call(node) else node

    def visit_FunctionDef(self, node: ast.FunctionDef):
        # Names this function only ever binds to mask expressions: `m[mask] = v` may use them.
        outer, self.masks = self.masks, frozenset(
            name for name, values in _bindings(node).items() if all(_mask_like(v) for v in values))
        # ... and names drawn from a tuple of constants: `for name, colour in COLOURS.items()`,
        # `for colour in PALETTE` (a wrong guess costs a call: the helpers fall back to the operator).
        drawn = {target.id for loop in ast.walk(node) if isinstance(loop, (ast.For, ast.comprehension))
                 and isinstance(loop.iter, ast.Name) and loop.iter.id in self.module_tuples
                 for target in ast.walk(loop.target) if isinstance(target, ast.Name)}
        self.tuples = self.module_tuples | self.tuple_params.get(node.name, frozenset()) | drawn
        self.generic_visit(node)
        self.masks, self.tuples = outer, self.module_tuples
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
