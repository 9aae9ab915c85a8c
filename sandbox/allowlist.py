"""The explicit allowlists shared by the static policy and the runtime guards.

Everything here is pure and supported by numba's nopython mode (or harmless and
caught later by the compile stage).  Anything not listed is denied.
"""

# numpy functions reachable as np.<name>.  Deliberately absent: empty* (uninitialised
# memory), frombuffer/as_strided/ndarray (memory views), vectorize/frompyfunc (run
# Python from C), save*/load*/fromfile/memmap/tofile (I/O), random, seterr (global state),
# lib/core/f2py/ctypeslib/testing (reach os and subprocess).
NUMPY_FUNCTIONS = frozenset("""
    array asarray zeros ones full zeros_like ones_like full_like arange linspace eye identity
    copy ascontiguousarray
    abs absolute sqrt square exp log log2 log10 sin cos tan arctan arctan2 hypot floor ceil
    round around rint clip sign minimum maximum fmin fmax add subtract multiply divide
    true_divide floor_divide mod remainder power negative
    logical_and logical_or logical_not logical_xor equal not_equal greater greater_equal
    less less_equal isclose allclose array_equal isnan isfinite isinf where
    sum prod mean median std var min max amin amax argmin argmax any all count_nonzero
    nonzero argwhere flatnonzero cumsum cumprod diff unique sort argsort bincount searchsorted
    reshape ravel transpose concatenate stack vstack hstack expand_dims squeeze flip fliplr
    flipud roll repeat tile dot outer nanmax nanmin nanmean nansum
""".split())

NUMPY_DTYPES = frozenset("""
    uint8 uint16 uint32 uint64 int8 int16 int32 int64 float32 float64 bool_ intp
""".split())

NUMPY_CONSTANTS = frozenset("pi e inf nan newaxis".split())

# Submodules a program may reach one function of, always spelled in full (np.linalg.norm):
# linalg also holds LAPACK drivers and error classes that nobody computing a reward needs.
NUMPY_SUBMODULES = {"linalg": frozenset({"norm"})}

NUMPY_ATTRS = NUMPY_FUNCTIONS | NUMPY_DTYPES | NUMPY_CONSTANTS

# Attributes of arrays and numpy scalars.  No base/ctypes/data/flat/flags/setflags/fill/
# sort/put/tofile/dump/view/strides: they write in place, alias memory or do I/O.
ARRAY_ATTRS = frozenset("""
    shape ndim size dtype T astype reshape copy sum any all max min mean std var prod
    argmax argmin nonzero ravel flatten transpose squeeze clip cumsum cumprod round item
    tolist
""".split())

TUPLE_ATTRS = frozenset({"count", "index"})
LIST_ATTRS = frozenset({"append", "extend", "pop", "insert", "count", "index", "reverse"})
DICT_ATTRS = frozenset({"get", "items", "keys", "values"})

# What `x.attr` may name when x is not the numpy module.
OBJECT_ATTRS = ARRAY_ATTRS | TUPLE_ATTRS | LIST_ATTRS | DICT_ATTRS

# Builtins a check may call.  Absent on purpose: open eval exec compile getattr setattr
# vars dir globals locals type id hash print input iter next object super __import__ ...
BUILTINS = frozenset("""
    abs all any bool divmod enumerate float int len list dict tuple max min pow range
    reversed round slice sorted sum zip isinstance
""".split())

# Keyword arguments any numpy call or method may receive.  Absent: out (writes into an
# existing array, e.g. the input), where (leaves unwritten memory in the result), like,
# buffer, subok, casting, order.
KWARGS = frozenset("""
    axis dtype keepdims ddof decimals a_min a_max return_counts return_index return_inverse
    endpoint num k shift repeats minlength side rtol atol equal_nan initial copy reverse key
    default kind
""".split())

# Array kinds a program may create: bool, signed, unsigned, float.  Never object,
# strings or void, which carry Python objects or raw memory.
DTYPE_KINDS = frozenset("biuf")

FORBIDDEN_NAME_HINTS = {
    "open": "no I/O: a check only looks at the observation",
    "print": "no I/O: return the truth value instead of printing",
    "eval": "no dynamic code", "exec": "no dynamic code", "compile": "no dynamic code",
    "getattr": "use plain attribute access (obs.shape)", "setattr": "no attribute writes",
    "type": "no introspection", "vars": "no introspection", "dir": "no introspection",
    "globals": "no introspection", "locals": "no introspection",
    "hash": "nondeterministic across processes", "id": "nondeterministic across processes",
    "iter": "loop with for", "next": "loop with for",
    "set": "set iteration order depends on hashing; use a tuple",
}
