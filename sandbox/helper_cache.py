"""numba's compiled helpers (sandbox/numba_helpers.py) cached on disk, written only by a trusted process.

Why: a native sandbox child starts with an empty numba, and the helpers a rewritten program
calls (axis reductions, tuple comparisons, int(), ...) pull in much of numba's own library
(transposes, reshapes and the string formatting of their error paths).  Compiling them
took 5-15 s of CPU per audit, for code that never changes between programs.

How:
- Each helper stub's overload template (numba_helpers registers one per stub) builds its
  implementations' dispatchers with a `_HelperCache` instead of numba's NullCache.  numba's
  Dispatcher.compile asks the cache before compiling and hands it the result afterwards.
- An entry is one file named by a hash of what decides the machine code: the implementation
  (its bytecode, constants, the globals and closure values it reads), the argument types,
  the flags it inherits from the calling function, and the CPU (numba's magic tuple).  Files
  live under <dir>/<stamp>/, where the stamp hashes sandbox/numba_*.py, this file and the
  numba, llvmlite, numpy and Python versions, so any change starts an empty directory.
- The sandbox child reads the whole directory into memory before it drops privileges and
  never writes (read-only here; RLIMIT_FSIZE = 0 there anyway).  What it had to compile
  itself it reports as misses: helper name and argument types, in a small JSON grammar.
- The parent then runs `python -I -m sandbox.helper_cache` (see `start_warm_up`): our code
  only, no program loaded, which compiles those helper signatures from a generated driver
  function and writes the entries.  A hostile program can at most ask for a bounded
  number of helper signatures of validated types; it can never write an entry.

Entries are unpickled by numba's own cache format (CompileResult._rebuild); only processes
of the parent's user write the directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Bounds on what one child may report and one warm-up may compile: a program cannot make
# the trusted process compile without end.
MAX_MISSES = 64
MAX_TUPLE = 8
MAX_NDIM = 4
MAX_LITERAL = 1 << 16
MAX_STORE_BYTES = 256 << 20          # what a child reads into memory at most
WARM_CPU_SECONDS = 300               # the warm-up's own RLIMIT_CPU
_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float32", "float64")
_INHERITED = ("nrt", "fastmath", "error_model", "forceinline")   # flags numba passes from caller to callee
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")

_ROOT = str(Path(__file__).resolve().parent.parent)


# -- identity of an implementation -------------------------------------------------------------


def _value_id(value, depth=0):
    """A process-independent description of a global or closure value, or None if there is none."""
    import types as pytypes

    import numpy as np

    if depth > 3:
        return None
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if isinstance(value, tuple):
        items = [_value_id(v, depth + 1) for v in value]
        return None if None in items else ("tuple", *items)
    if isinstance(value, pytypes.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    if isinstance(value, type) and issubclass(value, np.generic):
        return ("scalar", value.__name__)
    py_func = getattr(value, "py_func", None)          # a numba dispatcher
    if isinstance(py_func, pytypes.FunctionType):
        value = py_func
    if isinstance(value, pytypes.FunctionType):
        # By name: the stamp covers the source of sandbox/numba_*.py, where ours live,
        # and numba's own functions come with its version.
        return ("function", value.__module__, value.__qualname__)
    return None


def _code_id(code) -> tuple:
    consts = tuple(_code_id(c) if hasattr(c, "co_code") else _ADDRESS.sub("", repr(c)) for c in code.co_consts)
    return (code.co_code.hex(), consts, code.co_names, code.co_varnames, code.co_freevars)


def _all_names(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            names |= _all_names(const)
    return names


def identity(py_func) -> str | None:
    """sha256 of what decides an implementation's machine code besides its argument types."""
    parts = [getattr(py_func, _FIRST_NAME, py_func.__qualname__), py_func.__module__ or "", _code_id(py_func.__code__)]
    for name in sorted(_all_names(py_func.__code__)):
        if name in py_func.__globals__:
            described = _value_id(py_func.__globals__[name])
            if described is None:
                return None
            parts.append((name, described))
    for cell in py_func.__closure__ or ():
        try:
            described = _value_id(cell.cell_contents)
        except ValueError:  # an empty cell
            return None
        if described is None:
            return None
        parts.append(("closure", described))
    return hashlib.sha256(repr(parts).encode()).hexdigest()


_FIRST_NAME = "_cv_first_qualname"


def _name_for_linking(py_func, ident: str) -> None:
    """Give an implementation a qualname no other implementation has.

    numba names compiled code by module, qualname, argument types and a per-process
    counter.  Our templates are all `impl` of no module, and every warm-up process counts
    from the same start, so two entries written by two warm-ups (`a - b`, `a + b`) could
    carry one symbol name; a child loading both linked every call to one of them.
    """
    if not hasattr(py_func, _FIRST_NAME):
        setattr(py_func, _FIRST_NAME, py_func.__qualname__)
    py_func.__qualname__ = f"{getattr(py_func, _FIRST_NAME)}__cv{ident[:24]}"


def stamp() -> str:
    """What invalidates every entry at once: the helper sources and the compiler's versions."""
    import llvmlite
    import numba
    import numpy as np

    h = hashlib.sha256()
    # Every numba_* module of the sandbox: helpers call into each other by name, so a change
    # in any of them may change the code of an entry whose own bytecode did not change.
    for path in (*sorted((Path(_ROOT) / "sandbox").glob("numba_*.py")), Path(__file__)):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    # The optimisation level is read from the environment when numba starts (runner.NUMBA_OPT_LEVEL).
    h.update(repr((numba.__version__, llvmlite.__version__, np.__version__, sys.version,
                   int(numba.config.OPT))).encode())
    return h.hexdigest()[:16]


# -- the store ----------------------------------------------------------------------------------


class Store:
    """Entries by key.  Read-only: a dict loaded once.  Writable: files written atomically."""

    def __init__(self, directory: str | None, writable: bool):
        self.directory = Path(directory) / stamp() if directory else None
        self.writable = writable and directory is not None
        self.entries: dict[str, bytes] = {}
        self.hits = 0
        self.readable = False
        if self.directory is not None and not writable:
            self._load_all()

    def _load_all(self) -> None:
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return
        self.readable = True
        total = 0
        for name in names:
            if not name.endswith(".nbc"):
                continue
            try:
                data = (self.directory / name).read_bytes()
            except OSError:
                continue
            total += len(data)
            if total > MAX_STORE_BYTES:
                break
            self.entries[name[:-4]] = data

    def get(self, key: str) -> bytes | None:
        if self.writable:
            try:
                return (self.directory / f"{key}.nbc").read_bytes()
            except OSError:
                return None
        return self.entries.get(key)

    def put(self, key: str, data: bytes) -> None:
        if not self.writable:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.directory / f"{key}.nbc")
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class _HelperCache:
    """numba's per-dispatcher cache interface (see numba.core.caching.NullCache), backed by a Store."""

    def __init__(self, py_func, ident: str, store: Store):
        self._py_func = py_func
        self._ident = ident
        self._store = store
        self.misses = 0

    @property
    def cache_path(self):
        return str(self._store.directory) if self._store.directory else None

    def enable(self):
        pass

    def disable(self):
        pass

    def flush(self):
        pass

    def _key(self, sig, target_context) -> str:
        from numba.core.targetconfig import ConfigStack

        # The flags numba lets a callee inherit from its caller are part of the code.
        top = ConfigStack.top_or_none()
        inherited = None if top is None else tuple(_ADDRESS.sub("", repr(getattr(top, n))) for n in _INHERITED)
        types_ = sig if isinstance(sig, tuple) else (sig,)
        described = [(type(t).__name__, str(t)) for t in types_]
        magic = target_context.codegen().magic_tuple()
        return hashlib.sha256(repr((self._ident, described, inherited, magic)).encode()).hexdigest()

    def load_overload(self, sig, target_context):
        from numba.core import compiler

        try:
            data = self._store.get(self._key(sig, target_context))
            if data is None:
                self.misses += 1
                return None
            target_context.refresh()
            cres = compiler.CompileResult._rebuild(target_context, *pickle.loads(data))
        except Exception:  # noqa: BLE001 - a damaged or foreign entry is a miss, never a failure
            self.misses += 1
            return None
        self._store.hits += 1
        return cres

    def save_overload(self, sig, cres):
        from numba.core.serialize import dumps

        if not self._store.writable:
            return
        if any(not x.can_cache for x in cres.lifted) or cres.library.has_dynamic_globals:
            return
        # numba pickles each function's environment by its globals' module name and imports
        # that module when it loads one.  The reductions numba_helpers writes with exec() have
        # no module: name this one for them while pickling.  Their nopython code never reads
        # those globals at run time (numba froze them into the code as constants).
        unnamed = [env.globals for env in (cres.environment, *cres._find_referenced_environments())
                   if isinstance(env.globals, dict) and env.globals.get("__name__") is None]
        try:
            for namespace in unnamed:
                namespace["__name__"] = __name__
            data = dumps(cres._reduce())
            self._store.put(self._key(sig, cres.target_context), data)
        except Exception:  # noqa: BLE001 - a cache that cannot be written only costs time
            pass
        finally:
            for namespace in unnamed:
                namespace.pop("__name__", None)


# -- hooking the helper templates ---------------------------------------------------------------

_STORE: Store | None = None
_TEMPLATES: list[tuple[str, type]] = []   # (stub name, overload template)


def _helper_templates() -> list[tuple[str, type]]:
    from numba.core.typing.templates import builtin_registry

    from sandbox.numba_helpers import HELPERS

    stubs = {id(v): k for k, v in HELPERS.items() if callable(v) and getattr(v, "__module__", None)
             == "sandbox.numba_helpers"}
    found = []
    for value, typ in builtin_registry.globals:
        name = stubs.get(id(value))
        if name is not None:
            found += [(name, t) for t in getattr(typ, "templates", ())]
    return found


def install(directory: str | None, *, writable: bool) -> Store:
    """Give every helper implementation compiled from now on a cache backed by `directory`.

    Call once per process, after sandbox.numba_helpers is imported (the child: before it
    drops privileges, so that the directory is read while it still may).
    """
    global _STORE
    _STORE = Store(directory, writable)
    if _TEMPLATES:
        return _STORE
    _TEMPLATES.extend(_helper_templates())
    for _, template in _TEMPLATES:
        original = template._get_jit_decorator

        def caching_decorator(self, _original=original):
            jitter = _original(self)

            def with_options(**options):
                decorate = jitter(**options)

                def wrap(py_func):
                    ident = identity(py_func) if _STORE is not None and _STORE.directory is not None else None
                    if ident is not None:
                        _name_for_linking(py_func, ident)
                    dispatcher = decorate(py_func)
                    if ident is not None:
                        dispatcher._cache = _HelperCache(py_func, ident, _STORE)
                    return dispatcher
                return wrap
            return with_options

        template._get_jit_decorator = caching_decorator
    return _STORE


def report() -> dict:
    """What this process found in the cache and which helper signatures it compiled itself."""
    try:
        return _report()
    except Exception as exc:  # noqa: BLE001 - the cache only saves time; it must never fail a compile
        return {"hits": 0, "entries": 0, "readable": False, "misses": [], "error": f"{type(exc).__name__}: {exc}"}


def _report() -> dict:
    misses, seen = [], set()
    for name, template in _TEMPLATES:
        for key, value in list(template._impl_cache.items()):
            dispatcher = value[0] if isinstance(value, tuple) else None
            cache = getattr(dispatcher, "_cache", None)
            if not isinstance(cache, _HelperCache) or not cache.misses:
                continue
            _, args, kws, _ = key
            encoded = [encode(t) for t in args]
            if kws or any(e is None for e in encoded):
                continue
            entry = json.dumps({"helper": name, "args": encoded}, sort_keys=True)
            if entry not in seen and len(misses) < MAX_MISSES:
                seen.add(entry)
                misses.append(json.loads(entry))
    store = _STORE
    return {"hits": store.hits if store else 0, "entries": len(store.entries) if store else 0,
            "readable": bool(store and store.readable), "misses": misses}


# -- argument types as JSON ---------------------------------------------------------------------


def encode(t, depth: int = 0):
    """A numba type as JSON, or None when it is outside the small grammar the warm-up accepts."""
    from numba.core import types

    if depth > 2:
        return None
    if isinstance(t, types.IntegerLiteral):
        return ["lit_int", int(t.literal_value)] if abs(int(t.literal_value)) <= MAX_LITERAL else None
    if isinstance(t, types.BooleanLiteral):
        return ["lit_bool", bool(t.literal_value)]
    if isinstance(t, types.Array):
        dtype = str(t.dtype)
        if dtype not in _DTYPES or not 0 <= t.ndim <= MAX_NDIM or t.layout not in ("C", "F", "A"):
            return None
        return ["array", dtype, t.ndim, t.layout, not t.mutable]
    if isinstance(t, types.Boolean):
        return ["scalar", "bool"]
    if isinstance(t, (types.Integer, types.Float)):
        return ["scalar", str(t)] if str(t) in _DTYPES else None
    if isinstance(t, types.BaseTuple) and not isinstance(t, types.NamedTuple):
        items = [encode(x, depth + 1) for x in t.types]
        if len(items) > MAX_TUPLE or any(i is None for i in items):
            return None
        return ["tuple", items]
    return None


def decode(data, depth: int = 0):
    """The numba type `encode` described; ValueError for anything outside the grammar."""
    import numpy as np
    from numba.core import types

    if not isinstance(data, list) or not data or depth > 2:
        raise ValueError(f"not a type: {data!r}")
    kind = data[0]
    if kind == "lit_int" and len(data) == 2 and type(data[1]) is int and abs(data[1]) <= MAX_LITERAL:
        return types.IntegerLiteral(data[1])
    if kind == "lit_bool" and len(data) == 2 and type(data[1]) is bool:
        return types.BooleanLiteral(data[1])
    if kind == "scalar" and len(data) == 2 and data[1] in _DTYPES:
        return types.boolean if data[1] == "bool" else getattr(types, data[1])
    if (kind == "array" and len(data) == 5 and data[1] in _DTYPES and type(data[2]) is int
            and 0 <= data[2] <= MAX_NDIM and data[3] in ("C", "F", "A") and type(data[4]) is bool):
        from numba.np.numpy_support import from_dtype
        return types.Array(from_dtype(np.dtype(data[1])), data[2], data[3], readonly=data[4])
    if kind == "tuple" and len(data) == 2 and isinstance(data[1], list) and len(data[1]) <= MAX_TUPLE:
        return types.BaseTuple.from_types([decode(x, depth + 1) for x in data[1]])
    raise ValueError(f"not a type: {data!r}")


def _literal_source(t) -> str | None:
    """Python source that numba types as `t` at a call site, if `t` is a literal (or a tuple of them)."""
    from numba.core import types

    if isinstance(t, (types.IntegerLiteral, types.BooleanLiteral)):
        return repr(t.literal_value)
    if isinstance(t, types.BaseTuple):
        items = [_literal_source(x) for x in t.types]
        if items and all(i is not None for i in items):
            return "(" + "".join(f"{i}, " for i in items) + ")"
    return None


def _has_literal(t) -> bool:
    from numba.core import types

    if isinstance(t, types.Literal):
        return True
    return isinstance(t, types.BaseTuple) and any(_has_literal(x) for x in t.types)


# -- the trusted warm-up ------------------------------------------------------------------------


def warm(misses: list, jit_options: dict) -> dict:
    """Compile each reported helper signature from a driver that calls it as a program would.

    Literal arguments (axis=1, axis=(0, 1)) are spelled in the driver's source, so numba sees
    the same literal types at the call site; the others are the driver's parameters.
    """
    import numba

    from sandbox.numba_helpers import HELPERS

    compiled, skipped = 0, 0
    for miss in misses[:MAX_MISSES]:
        try:
            stub = HELPERS[miss["helper"]]
            if not callable(stub) or not isinstance(miss.get("args"), list):
                raise ValueError("not a helper")
            args = [decode(a) for a in miss["args"]]
            params, spelled = [], []
            for i, t in enumerate(args):
                literal = _literal_source(t)
                if literal is not None:
                    spelled.append(literal)
                elif _has_literal(t):
                    raise ValueError("a tuple mixing literals and values cannot be spelled")
                else:
                    params.append((f"a{i}", t))
                    spelled.append(f"a{i}")
            source = (f"def driver({', '.join(p for p, _ in params)}):\n"
                      f"    return helper({', '.join(spelled)})\n")
            namespace = {"helper": stub}
            exec(compile(source, "<helper-cache driver>", "exec"), namespace)  # noqa: S102 - our own template
            numba.njit(**jit_options)(namespace["driver"]).compile(tuple(t for _, t in params))
            compiled += 1
        except Exception:  # noqa: BLE001 - a signature the driver cannot reproduce is skipped
            skipped += 1
    return {"compiled": compiled, "skipped": skipped}


def _count_from_elsewhere() -> None:
    """Number this warm-up's functions from a random start.

    The entries embed numba's own library code too (its closures share qualnames), named
    with the per-process counter; two warm-ups or a warm-up and a child counting from 1
    would hand out the same symbol names for different code.
    """
    import itertools
    import secrets

    from numba.core import bytecode

    bytecode.FunctionIdentity._unique_ids = itertools.count(1 + (secrets.randbits(40) << 16))


def _warm_main() -> None:
    request = json.loads(sys.stdin.read())
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (WARM_CPU_SECONDS, WARM_CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from sandbox.native import JIT_OPTIONS   # the options the audited and deployed code compile with

    _count_from_elsewhere()

    install(request["directory"], writable=True)
    print(json.dumps(warm(request["misses"], JIT_OPTIONS)))


def start_warm_up(directory: str, misses: list, env: dict) -> subprocess.Popen | None:
    """Start the trusted warm-up for `misses` (from a child's compile report); None if nothing to do."""
    if not misses or not directory:
        return None
    os.makedirs(directory, mode=0o755, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {_ROOT!r}); "
         "from sandbox.helper_cache import _warm_main; _warm_main()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True, close_fds=True, cwd=directory)
    try:
        proc.stdin.write(json.dumps({"directory": directory, "misses": misses[:MAX_MISSES]}).encode())
        proc.stdin.close()
    except OSError:
        pass
    return proc


if __name__ == "__main__":
    _warm_main()
