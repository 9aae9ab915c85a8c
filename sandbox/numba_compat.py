"""Rewrites that let numba compile idioms NumPy programmers write every day, with Python's meaning.

numba's nopython mode rejects several allowed, reasonable spellings: `.any/.all/.max/
.min/.mean` with `axis=`, `.reshape` of a non-contiguous slice, a boolean mask of more
than one dimension on the left of `=`, generator expressions (`any(x for x in ...)`),
Python types as dtypes (`.astype(int)`), and an array or `tuple(pixel)` compared with a
tuple (`obs == (255, 255, 0)`).  Rejecting a correct program for how it is spelled would
make the verifier over-strict (SECURITY.md), so before numba sees a program these calls
are rewritten to helpers in sandbox/numba_helpers.py, with NumPy's semantics.

Others numba accepts but computes differently, and those are rewritten too:
- a Python int or float combined with a NumPy value follows NEP 50 in NumPy 2: the
  NumPy dtype wins (`obs[..., 0] + 300` refuses 300, `obs.astype(np.uint8) * 2` wraps);
  numba widens to int64 or float64.  Which operands are Python numbers is read from the
  source (sandbox/numba_kinds.py); the helper then picks NumPy's result type.
- Python ints never overflow; numba's int64 wraps.  Arithmetic on Python ints that could
  leave int64 is checked and raises OverflowError instead of wrapping.
- `int ** negative int` is a float in Python, an int in numba.  The policy admits only
  constant exponents (CV213), so the helper sees the exponent's value when it compiles.
- `int(x)` and `round(x)` of NaN, infinities and floats outside int64 raise in Python and
  return INT64_MIN in numba; `int()` of an unsigned value stays unsigned in numba.
- module-level dicts whose values numba types differently (tuples of different lengths)
  are looked up per key (literal keys, unrolled loops) or refused (CV216).

Module-level code is never rewritten: constants are computed once, by Python, and the
compiled functions read their values.  The rewrite respects scope: a local or module
name never is taken for the builtin or the numpy module it shadows (the policy also
refuses such names, CV212).

Only the compiled twin is rewritten; the restricted run executes the program as written.
The compile stage compares the two, so a helper that strayed from NumPy would show up as
a CV602 difference on that program, not as a silently different reward.

Helper names start with a double underscore, which the policy forbids in programs: a
program can neither call nor shadow them.  Importing this module imports numba and
registers the helpers (sandbox/numba_helpers.py), before the sandbox child drops privileges.
"""
from __future__ import annotations

import ast
import copy

# HELPERS is re-exported: a compiled program's globals need it beside the rewrite.
from sandbox.numba_helpers import (ARITH_OPS, AXIS_REDUCTIONS, CLOSE_DEFAULTS, COMPARE_OPS, CONSUMERS,  # noqa: F401
                                   DTYPE_NAMES, HELPERS, arith_helper, register_dict_lookups)
from sandbox.issue import Issue
from sandbox.numba_kinds import UNKNOWN, Kind, Kinds, binop_kind, fits, is_python_number

DICT_PREFIX = "__cv_d_"


class Refused(Exception):
    """A construct the compiled twin cannot give Python's meaning: a finding, not a crash."""

    def __init__(self, issue: Issue):
        super().__init__(issue.message)
        self.issue = issue


# -- the AST rewrite ----------------------------------------------------------------------


def rewrite(tree: ast.Module, numpy_aliases=frozenset(), functions=(), entry_points=()) -> ast.Module:
    """A copy of `tree` (already normalized) with the idioms above turned into helper calls.

    entry_points: the functions the framework calls with the observation (the sub-task
    checks, progress); their first parameter is known to be a NumPy array.  Raises
    Refused for a construct that has to be written differently.
    """
    tree = copy.deepcopy(tree)
    program_functions = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    module_names = frozenset(
        {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        | {n.name for n in program_functions} | set(functions))
    # The generated names join the module before the analyses below, which read them like
    # the program's own constants; the rewrite itself visits the program's functions only.
    tree.body.extend(_dict_constants(tree, frozenset(numpy_aliases)))
    tuples = frozenset(_tuple_names(tree))
    params = _tuple_parameters(tree, tuples)
    kinds = Kinds(tree, frozenset(numpy_aliases), entry_points)
    rewriter = _Rewrite(frozenset(numpy_aliases), module_names, tuples, params, kinds)
    for fn in program_functions:
        rewriter.visit(fn)
    return ast.fix_missing_locations(tree)


def jit_generated(namespace: dict, jit) -> None:
    """Compile the lookup functions _dict_constants wrote into the module (numba calls only jitted code).

    A dict whose values numba types differently gets lookups that resolve a key known at
    compile time to that key's own value, instead of one function that would have to
    return all of them.
    """
    for name, value in list(namespace.items()):
        if name.startswith(DICT_PREFIX) and callable(value):
            namespace[name] = jit(value)
    for name in [n for n in namespace if n.startswith(DICT_PREFIX) and n.endswith("_mixed")]:
        dict_name = name[len(DICT_PREFIX):-len("_mixed")]
        keys = namespace[f"{DICT_PREFIX}{dict_name}_keys"]
        values = [namespace[f"{DICT_PREFIX}{dict_name}_{i}"] for i in range(len(keys))]
        item, get = register_dict_lookups(dict_name, dict(zip(keys, values)))
        namespace[f"{DICT_PREFIX}{dict_name}_item"] = item
        namespace[f"{DICT_PREFIX}{dict_name}_get"] = get


# -- module-level dicts of constants ------------------------------------------------------


class _Dict:
    def __init__(self, keys: list, mixed: bool):
        self.keys = keys
        self.mixed = mixed   # values numba types differently: no single lookup function


def _dict_constants(tree: ast.Module, numpy_aliases: frozenset[str]) -> list[ast.stmt]:
    """Module-level dicts of constants, which numba cannot take as globals, spelled as tuples.

    COLOURS = {"key": (255, 255, 0), ...} gains one constant per value (the value's own
    expression, computed by Python), tuples of its keys, values and items, and lookup
    functions; in functions, COLOURS["key"] becomes the value's constant, COLOURS[k] and
    COLOURS.get(k) a lookup, .items()/.keys()/.values() the tuples, and `for k in COLOURS`,
    `k in COLOURS`, len(COLOURS) the keys.  Any other use is left as written, for numba to
    refuse (CV601) rather than to compute differently.  Returns the statements that define
    the generated names; the caller appends them after the program's own.
    """
    constants = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                 if isinstance(t, ast.Name)}
    added, dicts = [], {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Dict) and node.value.keys
                and all(isinstance(k, ast.Constant) for k in node.value.keys)
                and len({type(k.value) for k in node.value.keys}) == 1):
            name = node.targets[0].id
            keys = [k.value for k in node.value.keys]
            shapes = {_shape(v, constants, numpy_aliases) for v in node.value.values}
            mixed = len(shapes) > 1 and None not in shapes
            dicts[name] = _Dict(keys, mixed)
            added += [ast.Assign(targets=[ast.Name(f"{DICT_PREFIX}{name}_{i}", ast.Store())],
                                 value=copy.deepcopy(value)) for i, value in enumerate(node.value.values)]
            added += ast.parse(_dict_source(name, keys, mixed)).body
    if dicts:
        _DictUses(dicts).visit(tree)
    return added


def _shape(node: ast.AST, constants: dict, numpy_aliases, seen=frozenset()):
    """How numba will type a constant, coarsely: numbers unify with numbers, tuples by length; None if unsure."""
    if isinstance(node, ast.Constant):
        if type(node.value) in (int, float, bool):
            return "number"
        return type(node.value).__name__
    if isinstance(node, ast.UnaryOp):
        return _shape(node.operand, constants, numpy_aliases, seen)
    if isinstance(node, ast.BinOp):
        left, right = (_shape(node.left, constants, numpy_aliases, seen),
                       _shape(node.right, constants, numpy_aliases, seen))
        return "number" if left == right == "number" else None
    if isinstance(node, ast.Tuple):
        return ("tuple", tuple(_shape(e, constants, numpy_aliases, seen) for e in node.elts))
    if isinstance(node, ast.Name) and node.id in constants and node.id not in seen:
        return _shape(constants[node.id], constants, numpy_aliases, seen | {node.id})
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "slice":
        step = node.args[2] if len(node.args) == 3 else None
        return "slice2" if step is None or (isinstance(step, ast.Constant) and step.value in (None, 1)) else "slice3"
    return None


def _dict_source(name: str, keys: list, mixed: bool) -> str:
    p = f"{DICT_PREFIX}{name}_"
    values = "".join(f"{p}{i}, " for i in range(len(keys)))
    items = "".join(f"({k!r}, {p}{i}), " for i, k in enumerate(keys))
    text = f"{p}keys = ({''.join(f'{k!r}, ' for k in keys)})\n{p}values = ({values})\n{p}items = ({items})\n"
    if mixed:
        return text + f"{p}mixed = True\n"   # lookups registered once the values exist (jit_generated)
    chain = "".join(f"    if key == {k!r}:\n        return {p}{i}\n" for i, k in enumerate(keys))
    return (text + f"def {p}item(key):\n{chain}    raise KeyError('{name}: no such key')\n"
            f"def {p}get(key, default):\n{chain}    return default\n")


class _DictUses(ast.NodeTransformer):
    def __init__(self, dicts: dict[str, _Dict]):
        self.dicts = dicts
        self.shadowed: frozenset[str] = frozenset()
        self.params: frozenset[str] = frozenset()
        self.rebound: frozenset[str] = frozenset()
        self.unrolled: dict[tuple[str, str], str] = {}   # (dict, key name) -> the loop's value name
        self.loops = 0

    def visit_FunctionDef(self, node: ast.FunctionDef):
        params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        bound = set(_bindings(node))
        self.shadowed = frozenset(params | bound)
        self.params, self.rebound = frozenset(params), frozenset(bound)
        self.generic_visit(node)
        self.shadowed = self.params = self.rebound = frozenset()
        return node

    def visit_Module(self, node: ast.Module):
        for child in node.body:
            if isinstance(child, ast.FunctionDef):
                self.visit(child)
        return node

    def ours(self, node) -> str | None:
        if isinstance(node, ast.Name) and node.id in self.dicts and node.id not in self.shadowed:
            return node.id
        return None

    def generated(self, name: str, part: str, like: ast.AST) -> ast.Name:
        return _name(f"{DICT_PREFIX}{name}_{part}", like)

    def refuse(self, node: ast.AST, name: str, how: str) -> None:
        raise Refused(Issue(
            "CV216", f"{how}: the values of '{name}' have different shapes, which numba cannot hold in one variable",
            getattr(node, "lineno", None), getattr(node, "col_offset", None),
            f"read it with a literal key ({name}[{self.dicts[name].keys[0]!r}]), loop over {name}.items() "
            "with a for statement, or pass the key as a parameter that callers give literal keys"))

    def lookup(self, name: str, key: ast.expr, node: ast.AST, default: ast.expr | None = None) -> ast.expr:
        info = self.dicts[name]
        if isinstance(key, ast.Constant) and key.value in info.keys and default is None:
            return self.generated(name, str(info.keys.index(key.value)), node)
        if info.mixed:
            if isinstance(key, ast.Name) and (name, key.id) in self.unrolled and default is None:
                return _name(self.unrolled[(name, key.id)], node)
            if isinstance(key, ast.Name) and key.id in self.params and key.id not in self.rebound:
                # Compiled once per literal key the callers pass (numba.literally).
                key = _call("__cv_literally", [key], key)
            elif not isinstance(key, ast.Constant):
                self.refuse(node, name, f"{name}[{ast.unparse(key)}]")
        if default is None:
            return _call(f"{DICT_PREFIX}{name}_item", [key], node)
        return _call(f"{DICT_PREFIX}{name}_get", [key, default], node)

    def visit_Subscript(self, node: ast.Subscript):
        name = self.ours(node.value)
        if name is None or not isinstance(node.ctx, ast.Load):
            self.generic_visit(node)
            return node
        node.slice = self.visit(node.slice)
        return self.lookup(name, node.slice, node)

    def visit_Call(self, node: ast.Call):
        func = node.func
        name = self.ours(func.value) if isinstance(func, ast.Attribute) else None
        if name is not None and not node.keywords:
            if func.attr in ("items", "keys", "values") and not node.args:
                if self.dicts[name].mixed and func.attr != "keys":
                    self.refuse(node, name, f"{name}.{func.attr}() outside a for statement")
                return self.generated(name, func.attr, node)
            if func.attr == "get" and 1 <= len(node.args) <= 2:
                self._visit_all(node.args)
                default = node.args[1] if len(node.args) == 2 else ast.copy_location(ast.Constant(None), node)
                return self.lookup(name, node.args[0], node, default)
        if isinstance(func, ast.Name) and func.id == "len" and len(node.args) == 1 and self.ours(node.args[0]):
            node.args[0] = self.generated(node.args[0].id, "keys", node)
        self.generic_visit(node)
        return node

    def _visit_all(self, nodes):
        for i, child in enumerate(nodes):
            nodes[i] = self.visit(child)

    def visit_For(self, node: ast.For):
        iterable, part = self._iterated(node.iter)
        if iterable is None:
            self.generic_visit(node)
            return node
        info = self.dicts[iterable]
        if info.mixed and (part in ("items", "values") or self._reads_by_target(node, iterable)):
            return self._unroll(node, iterable, part)
        node.iter = self.generated(iterable, "keys" if part is None else part, node.iter)
        self.generic_visit(node)
        return node

    def _iterated(self, node: ast.expr) -> tuple[str | None, str | None]:
        """`for ... in D` -> (D, None); `for ... in D.items()` -> (D, "items")."""
        if self.ours(node):
            return node.id, None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args
                and not node.keywords and node.func.attr in ("items", "keys", "values") and self.ours(node.func.value)):
            return node.func.value.id, node.func.attr
        return None, None

    def _reads_by_target(self, loop: ast.For, name: str) -> bool:
        return isinstance(loop.target, ast.Name) and any(
            isinstance(n, ast.Subscript) and self.ours(n.value) == name and isinstance(n.slice, ast.Name)
            and n.slice.id == loop.target.id for n in ast.walk(loop))

    def _unroll(self, node: ast.For, name: str, part: str | None) -> ast.For:
        # numba compiles the body once per item type (numba.literal_unroll); it cannot
        # unpack in the loop header, so the body starts by unpacking the item.
        self.loops += 1
        item = f"__cv_item_{self.loops}"
        body: list[ast.stmt] = []
        if part == "values":
            body.append(ast.Assign(targets=[node.target], value=_subscript(_name(item, node), 1)))
        elif part == "items":
            body.append(ast.Assign(targets=[node.target], value=_name(item, node)))
        else:  # keys, with D[key] read in the body: take the value from the item
            key = node.target.id
            body.append(ast.Assign(targets=[node.target], value=_subscript(_name(item, node), 0)))
            value = f"__cv_value_{self.loops}"
            body.append(ast.Assign(targets=[ast.Name(value, ast.Store())], value=_subscript(_name(item, node), 1)))
            if key not in _bindings(ast.Module(body=node.body, type_ignores=[])):
                self.unrolled[(name, key)] = value
        for stmt in body:
            ast.copy_location(stmt, node)
        node.body = body + node.body
        node.iter = _call("__cv_unroll", [self.generated(name, "items", node.iter)], node.iter)
        node.target = ast.copy_location(ast.Name(item, ast.Store()), node.target)
        outer = dict(self.unrolled)
        self.generic_visit(node)
        self.unrolled = outer
        return node

    def visit_comprehension(self, node: ast.comprehension):
        iterable, part = self._iterated(node.iter)
        if iterable is not None:
            if self.dicts[iterable].mixed and part in ("items", "values"):
                self.refuse(node.iter, iterable, f"a comprehension over {iterable}.{part}()")
            node.iter = self.generated(iterable, "keys" if part is None else part, node.iter)
        self.generic_visit(node)
        return node

    def visit_Compare(self, node: ast.Compare):
        for i, (op, right) in enumerate(zip(node.ops, node.comparators)):
            if isinstance(op, (ast.In, ast.NotIn)) and self.ours(right):
                node.comparators[i] = self.generated(right.id, "keys", right)
            elif isinstance(op, (ast.In, ast.NotIn)) and self._iterated(right)[0] is not None:
                name, part = self._iterated(right)
                if self.dicts[name].mixed and part != "keys":
                    self.refuse(right, name, f"'in {name}.{part}()'")
                node.comparators[i] = self.generated(name, "keys" if part is None else part, right)
        self.generic_visit(node)
        return node


def _subscript(value: ast.expr, index: int) -> ast.Subscript:
    return ast.copy_location(ast.Subscript(value=value, slice=ast.Constant(index), ctx=ast.Load()), value)


# -- names: tuples, masks, bindings ------------------------------------------------------


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
        elif isinstance(node, ast.NamedExpr):
            opaque(node.target)
    return bound


def _tuple_names(tree: ast.Module):
    """Names the program binds only to tuple displays, anywhere: `KEY = (255, 255, 0)`."""
    return (name for name, values in _bindings(tree).items() if all(isinstance(v, ast.Tuple) for v in values))


def _name(id_: str, like: ast.AST) -> ast.Name:
    return ast.copy_location(ast.Name(id=id_, ctx=ast.Load()), like)


def _call(helper: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(func=_name(helper, like), args=args, keywords=[]), like)


# -- the function rewrite ------------------------------------------------------------------


class _Rewrite(ast.NodeTransformer):
    tuple_calls: frozenset[str] = frozenset()   # set per function, see visit_FunctionDef

    def __init__(self, numpy_aliases: frozenset[str], module_names: frozenset[str], tuples: frozenset[str],
                 tuple_params: dict[str, frozenset[str]], kinds: Kinds):
        self.numpy = numpy_aliases
        self.module_names = module_names   # the program's constants and functions shadow builtins
        self.module_tuples = self.tuples = tuples  # names bound only to tuple displays
        self.tuple_params = tuple_params           # and, per function, parameters given tuples
        self.kinds = kinds
        self.scope = None
        self.locals: frozenset[str] = frozenset()
        self.masks: frozenset[str] = frozenset()  # names the current function binds only to masks

    # -- scope ------------------------------------------------------------------------
    def builtin(self, node: ast.expr, name: str) -> bool:
        """`node` is the builtin `name`, not a local or a module name spelled like it."""
        return (isinstance(node, ast.Name) and node.id == name and name not in self.locals
                and name not in self.module_names)

    def on_numpy(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in self.numpy and node.id not in self.locals

    def kind(self, node: ast.expr) -> Kind:
        return self.scope.kind(node) if self.scope is not None else UNKNOWN

    def visit_FunctionDef(self, node: ast.FunctionDef):
        params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs}
        bindings = _bindings(node)
        self.locals = frozenset(params | set(bindings))
        self.scope = self.kinds.scope(node.name)
        # Names this function only ever binds to mask expressions: `m[mask] = v` may use them.
        self.masks = frozenset(name for name, values in bindings.items() if all(_mask_like(v) for v in values))
        # ... and names drawn from a tuple of constants: `for name, colour in COLOURS.items()`,
        # `for colour in PALETTE` (a wrong guess costs a call: the helpers fall back to the operator).
        module_tuples = self.module_tuples - (self.locals - {n for n, v in bindings.items()
                                                             if all(isinstance(x, ast.Tuple) for x in v)})
        drawn = {target.id for loop in ast.walk(node) if isinstance(loop, (ast.For, ast.comprehension))
                 and isinstance(loop.iter, ast.Name) and loop.iter.id in module_tuples
                 for target in ast.walk(loop.target) if isinstance(target, ast.Name)}
        self.tuples = module_tuples | self.tuple_params.get(node.name, frozenset()) | drawn
        # ... and names bound only to tuple(...) of one argument: `pixel = tuple(obs[y, x])`, then
        # `pixel == KEY`.  numba cannot build a tuple of an array's run-time length, so the name
        # keeps the array and its comparisons become sequence comparisons, as for tuple(x) == KEY.
        self.tuple_calls = frozenset(name for name, values in bindings.items()
                                     if name not in params and all(self._tuple_call(v) for v in values))
        self.generic_visit(node)
        self.masks, self.tuples, self.locals, self.scope = frozenset(), self.module_tuples, frozenset(), None
        self.tuple_calls = frozenset()
        return node

    # -- calls ------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call):
        # pow(a, b) is a ** b, with the same meaning to keep.
        power = (self._arithmetic(ast.Pow(), node.args[0], node.args[1], False)
                 if self.builtin(node.func, "pow") and len(node.args) == 2 and not node.keywords else None)
        self.generic_visit(node)
        if power is not None:
            return _call(power, node.args, node)
        func = node.func
        # .astype(int) / dtype=float: the Python type stands for NumPy's default dtype of that kind
        if isinstance(func, ast.Attribute) and func.attr == "astype" and node.args:
            node.args[0] = self._dtype(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "dtype":
                keyword.value = self._dtype(keyword.value)
        # np.isclose(a, b[, rtol, atol]) / np.allclose(...): NumPy's formula, broadcasting like NumPy
        if isinstance(func, ast.Attribute) and func.attr in ("isclose", "allclose") and self.on_numpy(func.value):
            close = self._isclose(node, f"__cv_{func.attr}")
            if close is not None:
                return close
        # np.clip(x, lo, hi) / x.clip(lo, hi): numba clips arrays only, and progress clips a number
        if isinstance(func, ast.Attribute) and func.attr == "clip" and not node.keywords:
            on_numpy = self.on_numpy(func.value)
            args = node.args if on_numpy else [func.value, *node.args]
            if len(args) == 3:
                return _call("__cv_clip", list(args), node)
        # np.linalg.norm(x) / np.linalg.norm(x, axis=k)
        if (isinstance(func, ast.Attribute) and func.attr == "norm" and isinstance(func.value, ast.Attribute)
                and func.value.attr == "linalg" and self.on_numpy(func.value.value) and len(node.args) == 1):
            if not node.keywords:
                return _call("__cv_norm", node.args, node)
            axis = _only_axis([], node.keywords)
            if axis is not None:
                return _call("__cv_norm_axis", [node.args[0], axis], node)
        # int(x): numba keeps an unsigned x unsigned (uint64), so int(r) - int(b) would wrap, and
        # gives INT64_MIN where Python raises (NaN, infinities, floats beyond int64)
        if self.builtin(func, "int") and len(node.args) == 1 and not node.keywords:
            return _call("__cv_int", node.args, node)
        # round(x): Python's half-even integer, with int()'s refusals
        if self.builtin(func, "round") and len(node.args) == 1 and not node.keywords:
            return _call("__cv_round", node.args, node)
        # x.op(axis) / x.op(axis=k) and np.op(x, axis) / np.op(x, axis=k)
        if isinstance(func, ast.Attribute) and func.attr in AXIS_REDUCTIONS:
            on_numpy = self.on_numpy(func.value)
            args = list(node.args)
            target = args.pop(0) if on_numpy and args else (None if on_numpy else func.value)
            axis = _only_axis(args, node.keywords)
            if target is not None and axis is not None:
                return _call(f"__cv_{func.attr}_axis", [target, axis], node)
        # x.reshape(...) / np.reshape(x, ...): numba reshapes C-contiguous arrays only
        if isinstance(func, ast.Attribute) and func.attr == "reshape":
            if self.on_numpy(func.value):
                if node.args:
                    node.args[0] = _call("__cv_contiguous", [node.args[0]], node)
            else:
                func.value = _call("__cv_contiguous", [func.value], node)
            return node
        # any(...) / all(...) and builtins fed by a generator expression
        if isinstance(func, ast.Name) and func.id in CONSUMERS and self.builtin(func, func.id):
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

    # -- comparisons ------------------------------------------------------------------
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
        # pixels == KEY: NumPy compares element-wise against the tuple as an array.
        # Only where a side is visibly a tuple; two tuples keep Python's meaning.
        if type(op) in COMPARE_OPS and (self._tuple(left) or self._tuple(right)):
            return _call(f"__cv_{COMPARE_OPS[type(op)][0]}", [left, right], node)
        return node

    def _tuple(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Tuple) or (isinstance(node, ast.Name) and node.id in self.tuples)

    def _tuple_call(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.tuple_calls
        return (isinstance(node, ast.Call) and self.builtin(node.func, "tuple") and len(node.args) == 1
                and not node.keywords)

    def _unwrap(self, node: ast.expr) -> ast.expr:
        return node.args[0] if isinstance(node, ast.Call) and self._tuple_call(node) else node

    # -- arithmetic -------------------------------------------------------------------
    def _arithmetic(self, op: ast.operator, left: ast.expr, right: ast.expr, in_place: bool) -> str | None:
        """The helper an arithmetic operator needs (see sandbox/numba_helpers.py), or None to keep it.

        Decided on the operands as written (before their own rewrite): Python numbers
        whose bounds keep the result inside int64 need nothing; a tuple beside an array,
        a NumPy value beside a Python number, or an int that may overflow need the helper.
        """
        if type(op) not in ARITH_OPS:
            return None
        a, b = self.kind(left), self.kind(right)
        if not (self._tuple(left) or self._tuple(right)) and _plain(op, a, b):
            return None
        return arith_helper(type(op), a.tag == "numpy", b.tag == "numpy", in_place)

    def visit_BinOp(self, node: ast.BinOp):
        helper = self._arithmetic(node.op, node.left, node.right, False)
        self.generic_visit(node)
        if helper is None:
            return node
        return _call(helper, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign):
        # `n += 1` on a Name (a subscript target is already `a[i] = a[i] + v`, see normalize).
        if not isinstance(node.target, ast.Name):
            self.generic_visit(node)
            return node
        load = _name(node.target.id, node.target)
        helper = self._arithmetic(node.op, load, node.value, True)
        self.generic_visit(node)
        if helper is None:
            return node
        # The helper updates an array in place, as `+=` does, and returns it.
        return ast.copy_location(ast.Assign(targets=[node.target], value=_call(helper, [load, node.value], node)),
                                 node)

    def visit_UnaryOp(self, node: ast.UnaryOp):
        kind = self.kind(node.operand)
        self.generic_visit(node)
        # -x of an int at INT64_MIN wraps in numba; Python's is 2**63.
        if isinstance(node.op, ast.USub) and not fits(kind) and kind.tag not in ("float", "numpy"):
            return _call("__cv_neg", [node.operand], node)
        return node

    # -- statements -------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign):
        # a[mask] = v: numba stores through 1-D masks only; the helper handles any rank.  Only
        # indexes that are visibly masks are rewritten: through a call, numba could no longer
        # infer the types of an empty dict or list from what is stored in it.
        self.generic_visit(node)
        if (len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in self.tuple_calls and isinstance(node.value, ast.Call)):
            node.value = self._unwrap(node.value)
            return node
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0]
            index = target.slice
            if _mask_like(index) or (isinstance(index, ast.Name) and index.id in self.masks):
                array = copy.deepcopy(target.value)
                array.ctx = ast.Load()
                return ast.copy_location(ast.Expr(_call("__cv_setitem", [array, index, node.value], node)), node)
        return node


def _plain(op: ast.operator, a: Kind, b: Kind) -> bool:
    """Operands whose result numba computes exactly as the interpreted run does.

    Two NumPy values: numba follows NumPy's promotion for arrays.  (Two NumPy scalars of a
    narrow type are the exception, uint8 + uint8 widening in numba; the compile stage's
    comparison reports that drift as CV602.)  Python numbers: when the result stays in int64.
    """
    if a.tag == "numpy" and b.tag == "numpy":
        return True
    if not (is_python_number(a) and is_python_number(b)):
        return False
    if isinstance(op, ast.Pow):
        return "float" in (a.tag, b.tag) and not (a.tag == "int" and b.tag == "int")
    if "float" in (a.tag, b.tag) or isinstance(op, ast.Div):
        return True
    return fits(binop_kind(op, a, b))


def _mask_like(node: ast.expr) -> bool:
    """An expression that can only be a boolean array or a bool: a comparison, or &, |, ^, ~ of such."""
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
        return _mask_like(node.left) or _mask_like(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return _mask_like(node.operand)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("__cv_") \
            and node.func.id.rsplit("_", 1)[0] in ("__cv_and", "__cv_or", "__cv_xor"):
        return any(_mask_like(a) for a in node.args)
    return False


def _only_axis(args: list[ast.expr], keywords: list[ast.keyword]) -> ast.expr | None:
    if len(args) == 1 and not keywords:
        return args[0]
    if not args and len(keywords) == 1 and keywords[0].arg == "axis":
        return keywords[0].value
    return None
