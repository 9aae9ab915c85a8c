"""Rewrites that let numba compile idioms NumPy programmers write every day.

numba's nopython mode rejects several allowed, reasonable spellings: `.any/.all/.max/
.min/.mean` with `axis=`, `.reshape` of a non-contiguous slice, a boolean mask of more
than one dimension on the left of `=`, generator expressions (`any(x for x in ...)`),
Python types as dtypes (`.astype(int)`), and an array or `tuple(pixel)` compared with a
tuple (`obs == (255, 255, 0)`).  One it accepts but computes differently: `int(x)` of an
unsigned integer is a uint64 in numba, so `int(r) - int(b)` wraps where Python's does not.
Rejecting a correct program for how it is spelled would make the verifier over-strict
(SECURITY.md), so before numba sees a program these calls are rewritten to helpers
in sandbox/numba_helpers.py, with NumPy's semantics.

Only the compiled twin is rewritten; the restricted run executes the program as written.
The compile stage compares the two on every suite frame and on random observations, so
a helper that strayed from NumPy would show up as a CV602 difference on that program,
not as a silently different reward.

Helper names start with a double underscore, which the policy forbids in programs: a
program can neither call nor shadow them.  Importing this module imports numba and
registers the helpers (sandbox/numba_helpers.py), before the sandbox child drops privileges.
"""
from __future__ import annotations

import ast
import copy

# HELPERS is re-exported: a compiled program's globals need it beside the rewrite.
from sandbox.numba_helpers import (AXIS_REDUCTIONS, CLOSE_DEFAULTS, CONSUMERS, DTYPE_NAMES, HELPERS,  # noqa: F401
                                   TUPLE_OPS)


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

    def tuple_like(arg: ast.expr, caller: str) -> bool:
        return isinstance(arg, ast.Tuple) or (isinstance(arg, ast.Name) and (
            arg.id in tuples or arg.id in marked[caller]))

    # Calls live in functions only: module level holds constants, which call no program function.
    changed = True
    while changed:
        changed = False
        for caller, fn in functions.items():
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
