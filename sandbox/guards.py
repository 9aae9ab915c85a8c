"""Runtime guards handed to RestrictedPython code: the numpy facade and attribute/write checks.

These run inside the sandbox child only.  The static policy already rejected
anything outside the allowlist; the guards re-check by runtime type, so an
object the policy could not see through (an alias, a computed value) is still held.
"""
from __future__ import annotations

import builtins
import operator
import types

import numpy as np
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox import allowlist


class Forbidden(Exception):
    """A guard refused an operation; reported as CV310 (or CV305 for input writes)."""


class InputWrite(Forbidden):
    """The program tried to write to its input observation."""


def _check_value(value):
    # Object, string and void arrays carry Python objects or raw bytes: never hand them out.
    if isinstance(value, np.ndarray) and value.dtype.kind not in allowlist.DTYPE_KINDS:
        raise Forbidden(f"arrays of dtype {value.dtype} are not allowed")
    if isinstance(value, tuple):
        for item in value:
            _check_value(item)
    return value


def _check_kwargs(name, kwargs):
    for key, val in kwargs.items():
        if key not in allowlist.KWARGS:
            raise Forbidden(f"keyword argument '{key}=' is not allowed in {name}()")
        if key == "dtype" and np.dtype(val).kind not in allowlist.DTYPE_KINDS:
            raise Forbidden(f"dtype {val!r} is not allowed")


def _wrap(name, fn):
    def call(*args, **kwargs):
        _check_kwargs(name, kwargs)
        return _check_value(fn(*args, **kwargs))
    call.__name__ = name
    return call


class NumpyFacade:
    """What `import numpy as np` gives a program: an explicit list, never the module."""

    __slots__ = ()

    def __repr__(self):
        return "<numpy facade>"


class SubmoduleFacade:
    """np.linalg and the like: the few functions allowlist.NUMPY_SUBMODULES names, wrapped."""

    __slots__ = ("name", "functions")

    def __init__(self, name: str):
        module = getattr(np, name)
        self.name = name
        self.functions = {f: _wrap(f"np.{name}.{f}", getattr(module, f)) for f in allowlist.NUMPY_SUBMODULES[name]}

    def __repr__(self):
        return f"<numpy.{self.name} facade>"


FACADE = NumpyFacade()
_FACADE_ATTRS = {name: _wrap(name, getattr(np, name)) for name in allowlist.NUMPY_FUNCTIONS}
_FACADE_ATTRS.update({name: SubmoduleFacade(name) for name in allowlist.NUMPY_SUBMODULES})
_FACADE_ATTRS.update({name: getattr(np, name) for name in allowlist.NUMPY_DTYPES})
_FACADE_ATTRS.update({name: getattr(np, name) for name in allowlist.NUMPY_CONSTANTS})
# Annotations such as `obs: np.ndarray` are stripped before compiling; this is inert.
_FACADE_ATTRS["ndarray"] = None


def freeze_constants(namespace: dict) -> None:
    """Module constants become immutable, so no call can leave state behind for the next:
    arrays read-only, lists tuples, dicts read-only mappings (of frozen values)."""
    for name, value in list(namespace.items()):
        if not name.startswith("_"):  # the program's names; ours (__builtins__, guards) stay as they are
            namespace[name] = _frozen(value)


def _frozen(value):
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, (list, tuple)):
        # Into tuples too: an array kept inside a module tuple was a writable counter that
        # survived between calls (CALLS = (np.array((0,)),)).
        return tuple(_frozen(v) for v in value)
    elif isinstance(value, dict):
        return types.MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


def guarded_getattr(obj, name, default=None):
    if not isinstance(name, str) or name.startswith("_"):
        raise Forbidden(f"attribute {name!r} is not allowed")
    if obj is FACADE:
        if name in _FACADE_ATTRS:
            return _FACADE_ATTRS[name]
        raise Forbidden(f"'np.{name}' is not allowed")
    if isinstance(obj, SubmoduleFacade):
        if name in obj.functions:
            return obj.functions[name]
        raise Forbidden(f"'np.{obj.name}.{name}' is not allowed")
    if isinstance(obj, (np.ndarray, np.generic)):
        allowed = allowlist.ARRAY_ATTRS
    elif isinstance(obj, tuple):
        allowed = allowlist.TUPLE_ATTRS
    elif isinstance(obj, list):
        allowed = allowlist.LIST_ATTRS
    elif isinstance(obj, (dict, types.MappingProxyType)):
        allowed = allowlist.DICT_ATTRS
    else:
        raise Forbidden(f"attribute '{name}' of {type(obj).__name__} is not allowed")
    if name not in allowed:
        raise Forbidden(f"attribute '{name}' of {type(obj).__name__} is not allowed")
    value = getattr(obj, name)
    if callable(value):
        if isinstance(obj, (np.ndarray, np.generic)):
            if name == "astype":
                return _astype(obj)
            return _wrap(name, value)
    return value


def _astype(arr):
    def astype(dtype, **kwargs):
        if np.dtype(dtype).kind not in allowlist.DTYPE_KINDS:
            raise Forbidden(f"astype({dtype!r}) is not allowed")
        _check_kwargs("astype", kwargs)
        return arr.astype(dtype, **kwargs)
    return astype


def guarded_write(obj):
    if isinstance(obj, np.ndarray):
        if not obj.flags.writeable:
            raise InputWrite("the program wrote to a read-only array (its input or a constant)")
        return obj
    if isinstance(obj, (list, dict)):
        return obj
    raise Forbidden(f"cannot assign items of {type(obj).__name__}")


def guarded_getitem(obj, index):
    return obj[index]


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "<<=": operator.ilshift,
    ">>=": operator.irshift, "|=": operator.ior, "^=": operator.ixor, "&=": operator.iand,
    "@=": operator.imatmul,
}


def inplacevar(op, target, value):
    if isinstance(target, np.ndarray) and not target.flags.writeable:
        raise InputWrite("the program modified a read-only array in place (its input or a constant)")
    return _INPLACE[op](target, value)


def restricted_import(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "numpy" and level == 0 and not fromlist:
        return FACADE
    raise Forbidden(f"import of {name!r} is not allowed")


def make_builtins(importer=restricted_import) -> dict:
    table = {name: getattr(builtins, name) for name in allowlist.BUILTINS}
    table.update({"True": True, "False": False, "None": None, "__import__": importer})
    return table


def make_globals() -> dict:
    """Fresh globals for one program: nothing shared between programs or calls."""
    return {
        "__builtins__": make_builtins(),
        "__name__": "reward_program",
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_write_": guarded_write,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_inplacevar_": inplacevar,
    }
