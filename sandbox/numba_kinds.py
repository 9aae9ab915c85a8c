"""What each expression of a program holds when Python runs it: a Python number, a NumPy value, or unknown.

numba types a Python int and an np.int64 alike (int64), but NumPy 2 treats them apart
(NEP 50): `obs[y, x, 0] + 300` with a Python 300 stays uint8 (and refuses 300), with an
np.int64 it becomes int64; a Python int never overflows, an np.int64 wraps.  The
rewrite in sandbox/numba_compat.py needs to know which one the interpreted run holds.
It learns it from the source, before numba sees it:

- Py(bits): a Python int (or bool) whose magnitude is below 2**bits; bits == 64 means
  unbounded.  Loop indices, shapes and literals have few bits, so arithmetic on them
  cannot leave int64 and keeps its plain spelling.
- PYFLOAT: a Python float.
- NUMPY: an array or NumPy scalar (the observation, anything indexed from it, np.* results).
- UNKNOWN: anything else (a tuple, a list, a value of mixed origin).

Unknown is safe: the rewrite then treats an int64 as a Python int, checks it for
overflow, and lets numba's types decide the rest.
"""
from __future__ import annotations

import ast
from typing import NamedTuple


class Kind(NamedTuple):
    tag: str          # "int", "float", "numpy", "unknown"
    bits: int = 64    # for "int": |value| < 2**bits


UNKNOWN = Kind("unknown")
NUMPY = Kind("numpy")
PYFLOAT = Kind("float")
WIDE = 64
# Array sizes and shapes are bounded by the child's address space (1 GiB, so < 2**30 elements).
SIZE = Kind("int", 31)


def py_int(bits: int) -> Kind:
    return Kind("int", max(1, min(WIDE, bits)))


def join(a: Kind | None, b: Kind | None) -> Kind | None:
    if a is None:
        return b
    if b is None or a == b:
        return a
    if a.tag == b.tag == "int":
        return py_int(max(a.bits, b.bits))
    return UNKNOWN


def is_python_number(kind: Kind | None) -> bool:
    return kind is not None and kind.tag in ("int", "float")


def fits(kind: Kind | None) -> bool:
    """A Python int that stays inside int64 with room for one more operation."""
    return kind is not None and kind.tag == "int" and kind.bits <= 62


def constant_kind(value) -> Kind:
    if isinstance(value, bool):
        return py_int(1)
    if isinstance(value, int):
        return py_int(abs(value).bit_length())
    if isinstance(value, float):
        return PYFLOAT
    return UNKNOWN


def binop_kind(op: ast.operator, a: Kind | None, b: Kind | None) -> Kind:
    a, b = a or UNKNOWN, b or UNKNOWN
    if a.tag == "numpy" or b.tag == "numpy":
        return NUMPY if "unknown" not in (a.tag, b.tag) else UNKNOWN
    if not (is_python_number(a) and is_python_number(b)):
        return UNKNOWN
    if isinstance(op, ast.Div) or "float" in (a.tag, b.tag):
        return PYFLOAT
    return py_int(_int_bits(op, a.bits, b.bits))


def _int_bits(op: ast.operator, x: int, y: int) -> int:
    # Bounds on |result| for |left| < 2**x and |right| < 2**y.
    if isinstance(op, (ast.Add, ast.Sub)):
        return max(x, y) + 1
    if isinstance(op, ast.Mult):
        return x + y
    if isinstance(op, ast.FloorDiv):
        return x + 1
    if isinstance(op, ast.Mod):
        return y
    if isinstance(op, (ast.BitAnd, ast.BitOr, ast.BitXor)):
        return max(x, y) + 1
    if isinstance(op, ast.RShift):
        return x
    return WIDE   # ** and << grow with the right operand's value, which bits do not bound


_ARRAY_ONLY_METHODS = frozenset("""
    astype reshape copy sum any all max min mean std var prod argmax argmin nonzero ravel flatten transpose
    squeeze clip cumsum cumprod round
""".split())


class _Program(NamedTuple):
    module: dict[str, Kind]                  # module constants
    elements: dict[str, tuple[Kind, bool]]   # module tuples of numbers: the join of their leaves, and flat?
    functions: dict[str, ast.FunctionDef]
    numpy_aliases: frozenset[str]


class Kinds:
    """Kinds of a program's expressions, per function; `of(node)` for any expression node of the tree."""

    def __init__(self, tree: ast.Module, numpy_aliases=frozenset(), entry_points=(), rounds: int = 6):
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        module, elements = {}, {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                scope = _Scope(_Program(module, elements, functions, frozenset(numpy_aliases)), {}, {})
                module[name] = scope.kind(node.value)
                leaves = _leaf_kind(node.value, scope)
                if leaves is not None:
                    elements[name] = (leaves, _is_flat(node.value))
        self.program = _Program(module, elements, functions, frozenset(numpy_aliases))
        entry = set(entry_points)
        # The framework calls the sub-task checks with the observation, an array.
        self.params: dict[str, dict[str, Kind]] = {
            name: {a.arg: NUMPY for a in fn.args.posonlyargs[:1] + fn.args.args[:1]} if name in entry else {}
            for name, fn in functions.items()}
        self.returns: dict[str, Kind | None] = {name: None for name in functions}
        self.scopes: dict[str, _Scope] = {}
        for round_ in range(rounds):
            calls: dict[str, dict[str, Kind | None]] = {name: {} for name in functions}
            returns: dict[str, Kind | None] = {name: None for name in functions}
            for name, fn in functions.items():
                scope = _Scope(self.program, self._param_kinds(name, fn), self.returns)
                scope.settle(fn)
                self.scopes[name] = scope
                returns[name] = scope.returned
                for callee, args in scope.calls:
                    target = functions[callee]
                    passed = {param: scope.kind(arg) for param, arg in _passed(target, args).items()}
                    for param, kind in passed.items():
                        calls[callee][param] = join(calls[callee].get(param), kind)
                    for param in _params(target):
                        if param not in passed:  # its default, or nothing
                            calls[callee][param] = join(calls[callee].get(param), _default_kind(target, param))
            new_params = {name: ({**calls[name], **self.params[name]} if name in entry else calls[name])
                          for name in functions}
            if new_params == self.params and returns == self.returns:
                break
            if round_ == rounds - 2:  # not settled: give up precision, not safety
                returns = {n: (UNKNOWN if returns[n] != self.returns[n] else returns[n]) for n in functions}
                new_params = {n: {p: (UNKNOWN if k != self.params[n].get(p) else k) for p, k in ps.items()}
                              for n, ps in new_params.items()}
            self.params, self.returns = new_params, returns

    def _param_kinds(self, name, fn) -> dict[str, Kind]:
        known = self.params.get(name, {})
        return {p: known.get(p, UNKNOWN) or UNKNOWN for p in _params(fn)}

    def scope(self, function: str) -> "_Scope | None":
        return self.scopes.get(function)


def _params(fn: ast.FunctionDef) -> list[str]:
    return [a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs]


def _default_kind(fn: ast.FunctionDef, param: str) -> Kind:
    positional = fn.args.posonlyargs + fn.args.args
    defaults = dict(zip([a.arg for a in positional[len(positional) - len(fn.args.defaults):]], fn.args.defaults))
    defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None})
    value = defaults.get(param)
    return constant_kind(value.value) if isinstance(value, ast.Constant) else UNKNOWN


def _passed(fn: ast.FunctionDef, call: ast.Call) -> dict[str, ast.expr]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    passed = dict(zip(names, call.args))
    passed.update({k.arg: k.value for k in call.keywords if k.arg})
    return passed


def _is_flat(node: ast.AST) -> bool:
    return isinstance(node, ast.Tuple) and not any(isinstance(e, ast.Tuple) for e in node.elts)


def _leaf_kind(node: ast.AST, scope: "_Scope") -> Kind | None:
    """The join of the numbers in a (nested) tuple display, for `for dy, dx in OFFSETS`."""
    if isinstance(node, ast.Tuple):
        kinds = [_leaf_kind(e, scope) for e in node.elts]
        if not kinds or any(k is None for k in kinds):
            return None
        out = None
        for k in kinds:
            out = join(out, k)
        return out
    kind = scope.kind(node)
    return kind if is_python_number(kind) else None


class _Scope:
    """One function: the kind of each local name, settled by iterating over its bindings."""

    def __init__(self, program: _Program, params: dict[str, Kind], returns: dict[str, Kind | None]):
        self.program = program
        self.names: dict[str, Kind | None] = dict(params)
        self.params = set(params)
        self.function_returns = returns
        self.returned: Kind | None = None
        self.calls: list[tuple[str, ast.Call]] = []
        self.local: set[str] = set(params)
        self.tuples: dict[str, tuple[Kind, bool]] = {}   # locals bound only to tuple displays of numbers

    # -- settling ------------------------------------------------------------------
    def settle(self, fn: ast.FunctionDef, rounds: int = 8) -> None:
        bindings = list(_function_bindings(fn))
        self.local |= {name for name, _ in bindings}
        tuple_values: dict[str, list] = {}
        for name, value in bindings:
            tuple_values.setdefault(name, []).append(value)
        for round_ in range(rounds):
            before = dict(self.names)
            for name, value in bindings:
                self.names[name] = join(self.names.get(name), self._bound_kind(value))
            # Counters (`n += 1`) grow by a bit per round: after a few, stop counting.
            if round_ >= 2:
                for name, kind in self.names.items():
                    if kind != before.get(name) and kind is not None and kind.tag == "int":
                        self.names[name] = py_int(WIDE)
            if self.names == before:
                break
        else:
            for name, kind in self.names.items():
                if kind != before.get(name):
                    self.names[name] = UNKNOWN
        for name, values in tuple_values.items():
            if name not in self.params and all(isinstance(v, ast.Tuple) for v in values):
                leaves = [_leaf_kind(v, self) for v in values]
                if all(k is not None for k in leaves):
                    out = None
                    for k in leaves:
                        out = join(out, k)
                    self.tuples[name] = (out, all(_is_flat(v) for v in values))
        for node in ast.walk(fn):
            if isinstance(node, ast.Return) and node.value is not None:
                self.returned = join(self.returned, self.kind(node.value))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in self.program.functions and node.func.id not in self.local:
                self.calls.append((node.func.id, node))
        if any(isinstance(n, ast.Return) and n.value is None for n in ast.walk(fn)):
            self.returned = UNKNOWN

    def _bound_kind(self, value) -> Kind | None:
        if isinstance(value, tuple):  # an indirect binding, see _function_bindings
            how = value[0]
            if how == "aug":
                _, op, target, operand = value
                return binop_kind(op, self.names.get(target), self.kind(operand))
            if how == "unpack":
                return self._element_kind(value[1], value[2])
            if how == "loop":
                return self._loop_kind(value[1], value[2])
            return UNKNOWN
        return self.kind(value)

    def _element_kind(self, node: ast.expr, depth: int) -> Kind:
        # `h, w, _ = obs.shape`; `r, g, b = obs[y, x]`; `a, b = KEY`
        if isinstance(node, ast.Attribute) and node.attr == "shape":
            return SIZE
        base = self.kind(node)
        if base.tag == "numpy":
            return NUMPY
        info = self._tuple_info(node.id) if isinstance(node, ast.Name) else None
        if info is not None and (info[1] or depth > 1):
            return info[0]
        return UNKNOWN

    def _loop_kind(self, iterable: ast.expr, path: tuple) -> Kind:
        """The kind of a loop target (or a part of one: path is the unpacking route)."""
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) \
                and iterable.func.id not in self.local:
            name = iterable.func.id
            if name == "range":
                out = py_int(1)
                for arg in iterable.args:
                    k = self.kind(arg)
                    out = join(out, k if k.tag == "int" else UNKNOWN)   # values lie between the bounds
                return out if not path else UNKNOWN
            if name == "enumerate" and iterable.args:
                if not path:
                    return UNKNOWN
                if path[0] == 0:
                    return SIZE if len(path) == 1 else UNKNOWN
                return self._loop_kind(iterable.args[0], path[1:])
            if name == "zip":
                if not path or path[0] >= len(iterable.args):
                    return UNKNOWN
                return self._loop_kind(iterable.args[path[0]], path[1:])
            if name == "reversed" and len(iterable.args) == 1:
                return self._loop_kind(iterable.args[0], path)
        base = self.kind(iterable)
        if base.tag == "numpy":
            return NUMPY   # rows or elements of an array: NumPy values, at any depth
        info = self._tuple_info(iterable.id) if isinstance(iterable, ast.Name) else None
        if info is not None and (path or info[1]):
            return info[0]
        if isinstance(iterable, ast.Tuple):
            leaves = _leaf_kind(iterable, self)
            if leaves is not None and (path or all(not isinstance(e, ast.Tuple) for e in iterable.elts)):
                return leaves
        return UNKNOWN

    def _tuple_info(self, name: str) -> tuple[Kind, bool] | None:
        if name in self.local:
            return self.tuples.get(name)
        return self.program.elements.get(name)

    # -- expressions -----------------------------------------------------------------
    def kind(self, node: ast.AST) -> Kind:
        method = getattr(self, "_kind_" + type(node).__name__, None)
        return (method(node) if method else UNKNOWN) or UNKNOWN

    def _kind_Constant(self, node):
        return constant_kind(node.value)

    def _kind_Name(self, node):
        if node.id in self.local:
            return self.names.get(node.id) or UNKNOWN
        return self.program.module.get(node.id, UNKNOWN)

    def _kind_BinOp(self, node):
        left, right = self.kind(node.left), self.kind(node.right)
        # An array beside a tuple of numbers: NumPy makes the tuple an array.
        if (left.tag == "numpy" and self._numbers_tuple(node.right)) or \
                (right.tag == "numpy" and self._numbers_tuple(node.left)):
            return NUMPY
        return binop_kind(node.op, left, right)

    def _numbers_tuple(self, node) -> bool:
        if isinstance(node, ast.Tuple):
            return _leaf_kind(node, self) is not None
        return isinstance(node, ast.Name) and self._tuple_info(node.id) is not None

    def _kind_UnaryOp(self, node):
        inner = self.kind(node.operand)
        if isinstance(node.op, ast.Not):
            return py_int(1) if inner.tag != "numpy" else NUMPY
        if isinstance(node.op, ast.Invert) and inner.tag == "int":
            return py_int(inner.bits + 1)
        if isinstance(node.op, ast.Invert) and inner.tag == "float":
            return UNKNOWN
        return inner

    def _kind_IfExp(self, node):
        return join(self.kind(node.body), self.kind(node.orelse))

    def _kind_BoolOp(self, node):
        out = None
        for value in node.values:
            out = join(out, self.kind(value))
        return out

    def _kind_Compare(self, node):
        kinds = [self.kind(node.left)] + [self.kind(c) for c in node.comparators]
        if all(is_python_number(k) for k in kinds):
            return py_int(1)
        return NUMPY if any(k.tag == "numpy" for k in kinds) and all(k.tag != "unknown" for k in kinds) else UNKNOWN

    def _kind_NamedExpr(self, node):
        return self.kind(node.value)

    def _kind_Attribute(self, node):
        if node.attr in ("ndim", "size"):
            return SIZE
        if isinstance(node.value, ast.Name) and node.value.id in self.program.numpy_aliases \
                and node.value.id not in self.local:
            return PYFLOAT if node.attr in ("pi", "e", "inf", "nan") else UNKNOWN
        if node.attr == "T" and self.kind(node.value).tag == "numpy":
            return NUMPY
        return UNKNOWN

    def _kind_Subscript(self, node):
        base = node.value
        if isinstance(base, ast.Attribute) and base.attr == "shape":
            return SIZE if not isinstance(node.slice, ast.Slice) else UNKNOWN
        if self.kind(base).tag == "numpy":
            return NUMPY
        info = self._tuple_info(base.id) if isinstance(base, ast.Name) else None
        if info is not None and info[1] and not isinstance(node.slice, ast.Slice):
            return info[0]
        return UNKNOWN

    def _kind_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name) and func.id not in self.local:
            name = func.id
            if name in self.program.functions:
                return self.function_returns.get(name) or UNKNOWN
            if name == "len":
                return SIZE
            if name == "int" or (name == "round" and len(node.args) == 1):
                return py_int(WIDE)
            if name == "float":
                return PYFLOAT
            if name == "bool":
                return py_int(1)
            if name == "abs" and len(node.args) == 1:
                return self.kind(node.args[0])
            if name in ("min", "max") and len(node.args) >= 2 and not node.keywords:
                out = None
                for arg in node.args:
                    out = join(out, self.kind(arg))
                return out
            return UNKNOWN
        if isinstance(func, ast.Attribute):
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id in self.program.numpy_aliases and owner.id not in self.local:
                if func.attr == "count_nonzero" and len(node.args) == 1 and not node.keywords:
                    return SIZE   # NumPy hands the count back as a Python int
                return NUMPY   # np.<function>(...): an array or a NumPy scalar
            if isinstance(owner, ast.Attribute) and isinstance(owner.value, ast.Name) \
                    and owner.value.id in self.program.numpy_aliases:
                return NUMPY   # np.linalg.norm(...)
            if func.attr in ("count", "index"):
                return SIZE
            if func.attr in _ARRAY_ONLY_METHODS:
                return NUMPY   # no tuple, list or dict has these: the owner is an array or NumPy scalar
            return NUMPY if self.kind(owner).tag == "numpy" and func.attr not in ("item", "tolist") else UNKNOWN
        return UNKNOWN


def _function_bindings(fn: ast.FunctionDef):
    """(name, what it is bound to) for every binding in the function.

    What it is bound to is an expression, or a tuple describing an indirect binding:
    ("aug", op, name, operand), ("unpack", value, depth), ("loop", iterable, path).
    """
    def targets(target, make, path=()):
        if isinstance(target, ast.Name):
            yield target.id, make(path)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, element in enumerate(target.elts):
                yield from targets(element, make, path + (i,))
        elif isinstance(target, ast.Starred):
            yield from targets(target.value, lambda _p: ("opaque",), path)

    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value
                elif isinstance(target, (ast.Tuple, ast.List)) and isinstance(node.value, (ast.Tuple, ast.List)) \
                        and len(target.elts) == len(node.value.elts):
                    for t, v in zip(target.elts, node.value.elts):
                        if isinstance(t, ast.Name):
                            yield t.id, v
                        else:
                            yield from targets(t, lambda _p: ("opaque",))
                else:
                    yield from targets(target, lambda p, v=node.value: ("unpack", v, len(p)))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            yield node.target.id, node.value
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            yield node.target.id, ("aug", node.op, node.target.id, node.value)
        elif isinstance(node, (ast.For, ast.comprehension)):
            yield from targets(node.target, lambda p, it=node.iter: ("loop", it, p))
        elif isinstance(node, ast.NamedExpr):
            yield node.target.id, node.value
