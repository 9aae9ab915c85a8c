"""Second layer: a default-deny AST allowlist that collects every violation at once.

Like RestrictedPython's transformer, `generic_visit` rejects any node without a
visitor, so syntax a new Python adds is never trusted by accident.  Names are
checked on the AST, which the parser has already NFKC-normalised, never on text.
"""
from __future__ import annotations

import ast
import builtins
from typing import NamedTuple

from sandbox import allowlist
from sandbox.issue import Issue

# Context and operator nodes carry no behaviour of their own.
_MARKERS = (
    "Load Store Add Sub Mult Div FloorDiv Mod Pow MatMult LShift RShift BitOr BitXor BitAnd "
    "And Or Not Invert UAdd USub Eq NotEq Lt LtE Gt GtE Is IsNot In NotIn"
).split()

# Every node class is either allowed (it has a visitor below or is a marker) or listed
# here with the reason users see.  tests/sandbox/test_policy_drift.py keeps this total.
REJECTED = {
    "ClassDef": "classes are not allowed (magic methods reach the interpreter)",
    "AsyncFunctionDef": "async functions are not allowed",
    "AsyncFor": "async loops are not allowed",
    "AsyncWith": "async with is not allowed",
    "Await": "await is not allowed",
    "Lambda": "lambda is not allowed (its defaults can shadow guards); use def",
    "Yield": "generators are not allowed (their frames reach the interpreter)",
    "YieldFrom": "generators are not allowed (their frames reach the interpreter)",
    "Global": "global state is not allowed",
    "Nonlocal": "closures over mutable state are not allowed",
    "Try": "try/except is not allowed (it can swallow timeouts and exits)",
    "TryStar": "try/except* is not allowed",
    "ExceptHandler": "try/except is not allowed",
    "Raise": "raise is not allowed; return False instead",
    "With": "with is not allowed (no resources to manage)",
    "withitem": "with is not allowed",
    "Delete": "del is not allowed",
    "Del": "del is not allowed",
    "JoinedStr": "f-strings are not allowed (format strings can walk attributes)",
    "FormattedValue": "f-strings are not allowed",
    "Starred": "star-unpacking is not allowed",
    # Iteration order of a set depends on hashing, which differs between processes.
    "Set": "sets are not allowed (their iteration order depends on hashing); use a tuple",
    "SetComp": "set comprehensions are not allowed (iteration order depends on hashing)",
    "Match": "match is not allowed", "match_case": "match is not allowed",
    "MatchValue": "match is not allowed", "MatchSingleton": "match is not allowed",
    "MatchSequence": "match is not allowed", "MatchMapping": "match is not allowed",
    "MatchClass": "match is not allowed", "MatchStar": "match is not allowed",
    "MatchAs": "match is not allowed", "MatchOr": "match is not allowed",
    "Interactive": "only a module is accepted", "Expression": "only a module is accepted",
    "FunctionType": "only a module is accepted", "TypeIgnore": "type: ignore is not allowed",
    "ImportFrom": "from-imports are not allowed; use `import numpy as np`",
    # Abstract bases and deprecated aliases never appear in a parsed tree.
    "AST": "abstract", "mod": "abstract", "stmt": "abstract", "expr": "abstract",
    "expr_context": "abstract", "boolop": "abstract", "operator": "abstract",
    "unaryop": "abstract", "cmpop": "abstract", "excepthandler": "abstract",
    "pattern": "abstract", "type_ignore": "abstract", "slice": "abstract",
    "AugLoad": "unused", "AugStore": "unused", "Param": "unused", "Suite": "unused",
    "Index": "deprecated", "ExtSlice": "deprecated", "Num": "deprecated", "Str": "deprecated",
    "Bytes": "deprecated", "NameConstant": "deprecated", "Ellipsis": "deprecated",
    # Python 3.12+ syntax, rejected until reviewed.
    "TypeAlias": "type aliases are not allowed", "TypeVar": "type parameters are not allowed",
    "ParamSpec": "type parameters are not allowed", "TypeVarTuple": "type parameters are not allowed",
    "type_param": "type parameters are not allowed", "Interpolation": "t-strings are not allowed",
    "TemplateStr": "t-strings are not allowed",
}


class ProgramInfo(NamedTuple):
    subtasks: tuple[str, ...]
    functions: dict[str, int]      # function name -> line
    numpy_aliases: frozenset[str]  # names bound to numpy (`import numpy as np` -> np)
    constants: frozenset[str]


def allowed_node_names() -> frozenset[str]:
    visitors = {name[len("visit_"):] for name in dir(_FunctionPolicy) if name.startswith("visit_")}
    return frozenset(visitors) | frozenset(_MARKERS) | {"Module", "Import", "alias", "arguments", "arg"}


def check_policy(tree: ast.Module) -> tuple[ProgramInfo | None, list[Issue]]:
    """Return the program's shape and every violation (empty when allowed)."""
    issues: list[Issue] = []
    aliases, constants, functions, subtasks_node = _scan_module(tree, issues)
    bound = set(constants) | set(functions) | aliases
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            _FunctionPolicy(issues, aliases, bound, constants).check_function(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            checker = _FunctionPolicy(issues, aliases, bound, constants, module_level=True)
            checker.visit(node.value)
            if isinstance(node, ast.AnnAssign):
                checker._visit_annotation(node.annotation)
    subtasks = _check_subtasks(subtasks_node, functions, tree, issues)
    if issues:
        return None, _dedupe(issues)
    return ProgramInfo(subtasks, {n: f.lineno for n, f in functions.items()}, frozenset(aliases),
                       frozenset(constants)), []


def _dedupe(issues: list[Issue]) -> list[Issue]:
    seen, out = set(), []
    for issue in sorted(issues, key=lambda i: (i.line or 0, i.col or 0, i.code)):
        if issue not in seen:
            seen.add(issue)
            out.append(issue)
    return out


def _issue(node: ast.AST, code: str, message: str, hint: str | None = None) -> Issue:
    return Issue(code, message, getattr(node, "lineno", None), getattr(node, "col_offset", None), hint)


def _rebinding(node: ast.AST, name: str, aliases=()) -> Issue:
    # The restricted run and numba's rewrite both take these names at their builtin meaning;
    # a program that rebinds one would mean one thing interpreted and another compiled.
    what = "the numpy module" if name in aliases else "a builtin"
    return _issue(node, "CV212", f"cannot rebind '{name}', {what}",
                  f"rename the local; `{name}` keeps its {'numpy' if name in aliases else 'builtin'} meaning")


INT64_MAX = 2 ** 63 - 1


def _scan_module(tree, issues):
    """Module level holds only the numpy import, constants and top-level functions."""
    aliases: set[str] = set()
    constants: dict[str, ast.AST] = {}
    functions: dict[str, ast.FunctionDef] = {}
    subtasks_node = None
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.name != "numpy":
                    issues.append(_issue(node, "CV204", f"import of '{name.name}' is not allowed",
                                         "the only import allowed is `import numpy as np`"))
                    continue
                local = name.asname or "numpy"
                if local.startswith("_"):
                    issues.append(_issue(node, "CV209", f"name '{local}' starts with an underscore"))
                elif local in allowlist.BUILTINS:
                    issues.append(_rebinding(node, local))
                aliases.add(local)
        elif isinstance(node, ast.FunctionDef):
            if node.name in functions or node.name in constants:
                issues.append(_issue(node, "CV208", f"'{node.name}' is defined twice"))
            if node.name in allowlist.BUILTINS or node.name in aliases:
                issues.append(_rebinding(node, node.name, aliases))
            functions[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            pairs = _unpacked_constants(node)
            if pairs is None and (node.value is None or len(targets) != 1 or not isinstance(targets[0], ast.Name)):
                issues.append(_issue(node, "CV208", "module-level assignments must bind one name to a constant"))
                continue
            for target, value in pairs or [(targets[0], node.value)]:
                subtasks_node = _module_constant(node, target, value, aliases, constants, functions, issues,
                                                 subtasks_node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # docstring or stray string: inert
        elif isinstance(node, ast.ImportFrom):
            issues.append(_issue(node, "CV204", "from-imports are not allowed",
                                 "the only import allowed is `import numpy as np`"))
        elif type(node).__name__ in REJECTED:
            issues.append(_issue(node, "CV201", REJECTED[type(node).__name__]))
        else:
            issues.append(_issue(node, "CV208", f"module-level {type(node).__name__} statement is not allowed",
                                 "module level holds the numpy import, constants and functions only"))
    return aliases, constants, functions, subtasks_node


def _unpacked_constants(node) -> list[tuple[ast.Name, ast.expr]] | None:
    """`EE_X, EE_Y, EE_Z = 0, 1, 2` as three constants (a style models use), else None.

    Only a tuple of names bound to a literal tuple of as many values: each pair is then
    checked exactly as a one-name assignment is.
    """
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple)
            and isinstance(node.value, ast.Tuple)):
        return None
    names, values = node.targets[0].elts, node.value.elts
    if (len(names) != len(values) or not all(isinstance(n, ast.Name) for n in names)
            or any(isinstance(v, ast.Starred) for v in values)):
        return None
    return list(zip(names, values))


def _module_constant(node, target, value, aliases, constants, functions, issues, subtasks_node):
    """Check one module-level name bound to `value`; returns the SUBTASKS value node if this is it."""
    name = target.id
    if name.startswith("_"):
        issues.append(_issue(node, "CV209", f"module-level name '{name}' starts with an underscore",
                             "underscore names are reserved for the sandbox's guards"))
    if name in constants or name in functions:
        issues.append(_issue(node, "CV208", f"module-level name '{name}' is assigned twice",
                             "module-level names are constants"))
    if name in allowlist.BUILTINS or name in aliases:
        issues.append(_rebinding(target, name, aliases))
    constants[name] = value
    if name == "SUBTASKS":
        return value
    if isinstance(value, ast.Dict) and _is_constant_dict(value, aliases):
        pass  # frozen into a read-only mapping after loading (sandbox.guards.freeze_constants)
    elif not _is_constant_expr(value, aliases):
        hint = ("a module-level dict needs literal string or number keys, each once, and constant values"
                if isinstance(value, (ast.Dict, ast.DictComp)) else
                "use a tuple for fixed collections; compute per call inside a function")
        issues.append(_issue(value, "CV208", f"module-level '{name}' must be a constant (number, string, tuple, "
                             "np.array of numbers, dict of those)", hint))
    return subtasks_node


def _is_constant_expr(node: ast.AST, alias: set[str]) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Tuple):
        return all(_is_constant_expr(e, alias) for e in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_constant_expr(node.operand, alias)
    if isinstance(node, ast.BinOp):
        return _is_constant_expr(node.left, alias) and _is_constant_expr(node.right, alias)
    if isinstance(node, ast.Name):
        return True  # another constant; the function visitor checks it is bound
    if isinstance(node, ast.List):  # only as an argument of np.array(...)
        return False
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "slice":
        # ROWS = slice(8, 16): numba takes a slice global as it is.
        return 1 <= len(node.args) <= 3 and not node.keywords and all(_is_constant_expr(a, alias) for a in node.args)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            isinstance(node.func.value, ast.Name) and node.func.value.id in alias and \
            node.func.attr in {"array", "asarray", *allowlist.NUMPY_DTYPES}:
        return all(_is_literal_data(a, alias) for a in node.args) and \
            all(_is_literal_data(k.value, alias) for k in node.keywords)
    return False


def _is_constant_dict(node: ast.Dict, alias: set[str]) -> bool:
    """{"key": (255, 255, 0), ...}: literal keys, each once, and constant values (no nested dicts)."""
    keys = []
    for key in node.keys:
        if not (isinstance(key, ast.Constant) and type(key.value) in (str, int)):
            return False  # None is a `**other` unpacking
        keys.append(key.value)
    return len(set(keys)) == len(keys) and all(_is_constant_expr(v, alias) for v in node.values)


def _is_literal_data(node: ast.AST, alias: set[str]) -> bool:
    if isinstance(node, (ast.List, ast.Tuple)):
        return all(_is_literal_data(e, alias) for e in node.elts)
    if isinstance(node, ast.Attribute):  # dtype=np.uint8
        return isinstance(node.value, ast.Name) and node.value.id in alias and node.attr in allowlist.NUMPY_DTYPES
    return _is_constant_expr(node, alias)


def _check_subtasks(node, functions, tree, issues) -> tuple[str, ...]:
    if node is None:
        issues.append(Issue("CV205", "SUBTASKS is missing", 1, 0,
                            'add SUBTASKS = ("first_subtask", ..., "goal") naming one function per sub-task'))
        return ()
    if not isinstance(node, (ast.Tuple, ast.List)) or not node.elts or not all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        issues.append(_issue(node, "CV205", "SUBTASKS must be a non-empty tuple of string literals",
                             'e.g. SUBTASKS = ("has_key", "door_open", "at_goal")'))
        return ()
    names = tuple(e.value for e in node.elts)
    for elt, name in zip(node.elts, names):
        if names.count(name) > 1:
            issues.append(_issue(elt, "CV205", f"SUBTASKS names '{name}' more than once"))
        fn = functions.get(name)
        if fn is None:
            issues.append(_issue(elt, "CV206", f"SUBTASKS names '{name}' but no function '{name}' is defined",
                                 f"define `def {name}(obs):` returning a bool"))
            continue
        args = fn.args
        positional = args.posonlyargs + args.args
        required = len(positional) - len(args.defaults)
        if required != 1 or args.vararg or args.kwarg or any(d is None for d in args.kw_defaults) and args.kwonlyargs:
            issues.append(Issue("CV207", f"sub-task '{name}' must take exactly one required parameter (the observation), "
                                f"takes {required}", fn.lineno, fn.col_offset, subtask=name,
                                hint=f"def {name}(obs): ..."))
    return names


def _block_contents(node) -> list:
    """The statements and expressions inside a rejected try/with block, without its scaffolding."""
    if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        inner = list(node.body) + list(node.orelse) + list(node.finalbody)
        for handler in node.handlers:
            inner += ([handler.type] if handler.type is not None else []) + list(handler.body)
        return inner
    if isinstance(node, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in node.items] + list(node.body)
    return []


class _FunctionPolicy(ast.NodeVisitor):
    """Checks one function (or one module-level constant expression)."""

    def __init__(self, issues, aliases, module_names, constants, module_level=False):
        self.issues = issues
        self.aliases = aliases
        self.module_names = module_names
        self.constants = set(constants)
        self.constants_ast = constants if isinstance(constants, dict) else {}
        self.module_level = module_level
        self.local_names: set[str] = set()
        self.in_annotation = False

    # -- helpers -------------------------------------------------------------
    def error(self, node, code, message, hint=None):
        self.issues.append(_issue(node, code, message, hint))

    def generic_visit(self, node):
        name = type(node).__name__
        if name in _MARKERS:
            return
        reason = REJECTED.get(name, f"{name} is not allowed")
        self.error(node, "CV201", reason)
        # A rejected block still holds code the user will keep once the block is gone: report
        # what is wrong inside it now, so every violation shows in one round.
        for child in _block_contents(node):
            self.visit(child)

    def _visit_many(self, nodes):
        for node in nodes:
            if node is not None:
                self.visit(node)

    def reserved(self, name: str) -> bool:
        # A lone `_` is the conventional throwaway local (`h, w, _ = obs.shape`): it names none
        # of the sandbox's guards, which all have longer names.  At module level it stays reserved.
        return name.startswith("_") and (name != "_" or self.module_level)

    def check_binding(self, node, name):
        if self.reserved(name):
            self.error(node, "CV209", f"name '{name}' starts with an underscore",
                       "underscore names are reserved for the sandbox's guards")
        elif name in self.aliases or name in allowlist.BUILTINS:
            self.issues.append(_rebinding(node, name, self.aliases))

    # -- functions -------------------------------------------------------------
    def check_function(self, fn: ast.FunctionDef):
        if fn.name.startswith("_"):
            self.error(fn, "CV209", f"function name '{fn.name}' starts with an underscore")
        if fn.decorator_list:
            self.error(fn.decorator_list[0], "CV201", "decorators are not allowed")
        args = fn.args
        if args.vararg or args.kwarg:
            self.error(fn, "CV201", "*args and **kwargs are not allowed")
        for arg in args.posonlyargs + args.args + args.kwonlyargs:
            if arg.arg.startswith("_"):
                self.error(arg, "CV209", f"parameter '{arg.arg}' starts with an underscore",
                           "underscore names are reserved for the sandbox's guards")
            elif arg.arg in allowlist.BUILTINS or arg.arg in self.aliases:
                self.issues.append(_rebinding(arg, arg.arg, self.aliases))
            self.local_names.add(arg.arg)
            self._visit_annotation(arg.annotation)
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            if not isinstance(default, ast.Constant):
                self.error(default, "CV201", "parameter defaults must be literal constants")
        self._visit_annotation(fn.returns)
        self.local_names |= _stored_names(fn)
        for name in self.local_names:
            if self.reserved(name):
                self.error(fn, "CV209", f"name '{name}' starts with an underscore")
        for stmt in fn.body:
            self.visit(stmt)

    def _visit_annotation(self, node):
        if node is not None:
            self.in_annotation = True
            self.visit(node)
            self.in_annotation = False

    def visit_FunctionDef(self, node):
        self.error(node, "CV201", "nested functions are not allowed", "define helpers at module level")

    def visit_Import(self, node):
        self.error(node, "CV204", "imports are only allowed at module level (`import numpy as np`)")

    # -- statements ------------------------------------------------------------
    def visit_Return(self, node):
        self._visit_many([node.value])

    def visit_Assign(self, node):
        self._visit_many(node.targets)
        self.visit(node.value)

    def visit_AugAssign(self, node):
        if isinstance(node.op, ast.Pow):
            self.check_exponent(node, node.value)
        self.visit(node.target)
        self.visit(node.value)

    def visit_AnnAssign(self, node):
        if node.value is None:
            self.error(node, "CV201", "bare annotations are not allowed")
        self.visit(node.target)
        self._visit_annotation(node.annotation)
        self._visit_many([node.value])

    def visit_For(self, node):
        self._visit_many([node.target, node.iter, *node.body, *node.orelse])

    def visit_While(self, node):
        self._visit_many([node.test, *node.body, *node.orelse])

    def visit_If(self, node):
        self._visit_many([node.test, *node.body, *node.orelse])

    def visit_Expr(self, node):
        self.visit(node.value)

    def visit_Assert(self, node):
        self._visit_many([node.test, node.msg])

    def visit_Pass(self, node):
        pass

    visit_Break = visit_Continue = visit_Pass

    # -- expressions -------------------------------------------------------------
    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
            self.error(node, "CV215", f"integer {value} does not fit in 64 bits",
                       "compiled code has 64-bit integers: write it as a float (1e20) or keep integers "
                       "within ±9.2e18")

    # -- Python/numba divergences decided by how the program is written -----------
    # Module-level constants are computed once, by Python, and handed to the compiled
    # code as values: only function bodies need these checks.
    def check_exponent(self, node, exponent, spelling="'**'"):
        if self.module_level or self.numeric_constant(exponent):
            return
        self.error(node, "CV213", f"{spelling} with the exponent '{_source(exponent)}', which is not a constant",
                   "Python makes int ** negative int a float (2 ** -1 == 0.5), compiled code an int (0): "
                   "use a constant exponent, or float(base) ** exponent")

    def numeric_constant(self, node, seen=frozenset()) -> bool:
        """A number the source fixes: literals, module constants made of them, and arithmetic on those."""
        if isinstance(node, ast.Constant):
            return type(node.value) in (int, float)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.numeric_constant(node.operand, seen)
        if isinstance(node, ast.BinOp):
            return self.numeric_constant(node.left, seen) and self.numeric_constant(node.right, seen)
        if isinstance(node, ast.Name) and node.id not in self.local_names and node.id not in seen:
            value = self.constants_ast.get(node.id)
            return value is not None and self.numeric_constant(value, seen | {node.id})
        return False

    def visibly_float(self, node) -> bool:
        # float(x) ** y and 2.0 ** y are float powers whatever y holds: no integer result to get wrong.
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.visibly_float(node.operand)
        return (isinstance(node, ast.Constant) and type(node.value) is float) or (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float")

    def check_call_divergence(self, node):
        func = node.func
        if self.module_level or not isinstance(func, ast.Name) or func.id in self.local_names:
            return
        if func.id == "pow" and len(node.args) >= 2 and not self.visibly_float(node.args[0]):
            self.check_exponent(node, node.args[1], "pow()")
        if func.id == "round":
            digits = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "ndigits"), None)
            if digits is not None and not (isinstance(digits, ast.Constant) and digits.value in (None, 0)):
                self.error(node, "CV214", "round() with digits rounds Python floats and NumPy floats differently",
                           "round(2.675, 2) is 2.67 for a Python float but 2.68 for np.float64 and in compiled "
                           "code: use np.round(x, 2), which both compute alike, or compare without rounding")

    def visit_Name(self, node):
        name = node.id
        if self.reserved(name):
            self.error(node, "CV209", f"name '{name}' starts with an underscore",
                       "dunder and underscore names are never allowed")
            return
        if isinstance(node.ctx, ast.Store):
            self.check_binding(node, name)
            return
        if name in self.local_names or name in self.module_names or name in allowlist.BUILTINS:
            return
        hint = allowlist.FORBIDDEN_NAME_HINTS.get(name, "allowed builtins: " + ", ".join(sorted(allowlist.BUILTINS)))
        if name not in allowlist.FORBIDDEN_NAME_HINTS and not hasattr(builtins, name):
            # A helper the program uses but never defines (a model calling a helper it saw in
            # its prompt): "not allowed" would send it looking for a forbidden name.
            self.error(node, "CV202", f"name '{name}' is not defined in the program",
                       f"define {name} in the program (top level) before using it; " + hint)
            return
        self.error(node, "CV202", f"name '{name}' is not allowed", hint)

    def visit_Attribute(self, node):
        attr = node.attr
        if attr.startswith("_"):
            self.error(node, "CV209", f"attribute '{attr}' starts with an underscore",
                       "dunder and underscore attributes are never allowed")
        elif isinstance(node.ctx, ast.Store):
            self.error(node, "CV201", f"assigning to attribute '{attr}' is not allowed")
        elif self._numpy_submodule(node.value) is not None:
            submodule = self._numpy_submodule(node.value)
            if attr not in allowlist.NUMPY_SUBMODULES[submodule]:
                self.error(node, "CV203", f"'np.{submodule}.{attr}' is not allowed",
                           f"allowed in np.{submodule}: " + ", ".join(sorted(allowlist.NUMPY_SUBMODULES[submodule])))
            return  # np.linalg itself is fine here, spelled in full
        elif isinstance(node.value, ast.Name) and node.value.id in self.aliases:
            allowed = allowlist.NUMPY_ATTRS | ({"ndarray"} if self.in_annotation else set())
            if attr not in allowed:
                self.error(node, "CV203", f"'{node.value.id}.{attr}' is not allowed",
                           "allowed numpy: pure array functions numba supports (see carverify docs)")
        elif attr not in allowlist.OBJECT_ATTRS:
            self.error(node, "CV203", f"attribute '{attr}' is not allowed",
                       "allowed on arrays: " + ", ".join(sorted(allowlist.ARRAY_ATTRS)))
        self.visit(node.value)

    def _numpy_submodule(self, node) -> str | None:
        if (isinstance(node, ast.Attribute) and node.attr in allowlist.NUMPY_SUBMODULES
                and isinstance(node.value, ast.Name) and node.value.id in self.aliases):
            return node.attr
        return None

    def visit_Subscript(self, node):
        if isinstance(node.ctx, ast.Store):
            base = node.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Name) and base.id not in self.local_names:
                self.error(node, "CV208", f"cannot modify module-level '{base.id}'",
                           "copy it into a local first: m = CONST.copy()")
            elif not isinstance(base, ast.Name):
                self.error(node, "CV201", "item assignment is only allowed on a local variable")
        self.visit(node.value)
        self.visit(node.slice)

    def visit_Call(self, node):
        self.check_call_divergence(node)
        self.visit(node.func)
        self._visit_many(node.args)
        for keyword in node.keywords:
            if keyword.arg is None:
                self.error(keyword, "CV201", "**kwargs in calls are not allowed")
            elif keyword.arg not in allowlist.KWARGS:
                self.error(keyword, "CV210", f"keyword argument '{keyword.arg}=' is not allowed",
                           "out= writes into existing arrays; where= leaves memory unwritten")
            self.visit(keyword.value)

    def visit_keyword(self, node):
        self.visit(node.value)

    def visit_BoolOp(self, node):
        self._visit_many(node.values)

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.Pow) and not self.visibly_float(node.left):
            self.check_exponent(node, node.right)
        self._visit_many([node.left, node.right])

    def visit_UnaryOp(self, node):
        self.visit(node.operand)

    def visit_Compare(self, node):
        self._visit_many([node.left, *node.comparators])

    def visit_IfExp(self, node):
        self._visit_many([node.test, node.body, node.orelse])

    def visit_NamedExpr(self, node):
        self._visit_many([node.target, node.value])

    def visit_Slice(self, node):
        self._visit_many([node.lower, node.upper, node.step])

    def visit_Tuple(self, node):
        self._visit_many(node.elts)

    visit_List = visit_Tuple

    def visit_Dict(self, node):
        if any(k is None for k in node.keys):
            self.error(node, "CV201", "** in dict displays is not allowed")
        self._visit_many([*node.keys, *node.values])

    def visit_ListComp(self, node):
        self._visit_many([*node.generators, node.elt])

    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._visit_many([*node.generators, node.key, node.value])

    def visit_comprehension(self, node):
        if node.is_async:
            self.error(node.target, "CV201", "async comprehensions are not allowed")
        self._visit_many([node.target, node.iter, *node.ifs])


def _source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def _stored_names(fn: ast.FunctionDef) -> set[str]:
    return {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
