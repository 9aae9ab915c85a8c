"""Attack corpus: hostile reward programs for the minigrid-doorkey-5x5 suite.

Every attack is ``BASE_PROGRAM`` -- a correct DoorKey program that passes the parse,
policy and restricted stages -- with exactly ONE hostile technique injected (into a
sub-task body, a helper, module level or SUBTASKS).  A verifier that missed the
technique would therefore accept the program: each entry tests one defence.

``Attack.expect`` is the set of finding codes a sound verifier might reasonably use
for that technique; a test passes when ANY reported code is in it.  It names only
codes of the layer that stops the attack: an attack the static layers (parse,
policy) reject lists CV1xx/CV2xx codes only, because the sandbox never runs it; an
attack they let through lists only what the sandbox can say (CV211 RestrictedPython,
CV301 raised, CV309 module load, CV310 forbidden at run time, CV302/CV308 timeout,
CV303 memory, CV306/CV307 child died/silent, CV4xx properties).  tests/test_attacks.py
checks this against the static layers, so a set cannot list a code nothing produces.

The families follow /work/shared/SECURITY.md.  "Semantic drift" (numba vs.
interpreter) is out of scope here: it is only observable in the compile stage,
which these parse/policy/restricted audits do not run.

These sources are hostile.  Never exec them outside the sandbox.
"""
from __future__ import annotations

import textwrap
from typing import NamedTuple


class Attack(NamedTuple):
    id: str
    family: str
    source: str
    expect: frozenset[str]


# A string that appears in every file name, process command line or environment
# probe an attack would create; the tests look for it on the host afterwards.
MARKER = "cvmark7f3a"
MARK_FILE = MARKER + "-pwned.txt"
MARK_TMP = "/tmp/" + MARKER + "-pwned.txt"

FAMILIES = (
    "introspection",
    "import_io",
    "memory_safety",
    "resource",
    "side_effects",
    "nondeterminism",
    "control_flow",
    "syntax",
)

BASE_PROGRAM = '''\
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def channels(obs):
    """Split the frame into signed int32 red, green and blue planes."""
    rgb = obs.astype(np.int32)
    return rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]


def key_pixels(obs):
    """Bright key-yellow pixels: red and green saturated, blue low."""
    r, g, b = channels(obs)
    return (r >= 230) & (g >= 230) & (b <= 120)


def has_key(obs):
    """The key was picked up: no key-yellow pixels are left on the floor."""
    return bool(np.count_nonzero(key_pixels(obs)) < 4)


def door_open(obs):
    """A locked or closed door paints a yellow frame along its tile's bottom edge."""
    r, g, b = channels(obs)
    edge = (r >= 150) & (g >= 150) & (b + 60 <= r)
    bottom = edge[TILE - 1::TILE, :]
    h, w = bottom.shape
    inner = bottom.reshape(h, w // TILE, TILE)[:, :, 0:TILE - 2]
    return bool(np.count_nonzero(inner) < 3)


def at_goal(obs):
    """The agent (red) stands on the goal tile (green)."""
    r, g, b = channels(obs)
    green = (g >= 200) & (r <= 120) & (b <= 120)
    red = (r >= 200) & (g <= 120) & (b <= 120)
    h, w = green.shape
    green_tiles = green.reshape(h // TILE, TILE, w // TILE, TILE).sum(axis=3).sum(axis=1)
    red_tiles = red.reshape(h // TILE, TILE, w // TILE, TILE).sum(axis=3).sum(axis=1)
    return bool(((green_tiles > 0) & (red_tiles > 0)).any())
'''

FUNCTIONS = ("channels", "key_pixels", "has_key", "door_open", "at_goal")


# --------------------------------------------------------------------------- helpers


def _lines(source: str) -> list[str]:
    return source.split("\n")


def inject(code: str, into: str | None = None, at: str = "start", source: str = BASE_PROGRAM) -> str:
    """Insert ``code`` into ``source``.

    into=<function>: at="start" puts it right after the function's docstring,
    at="end" right before its final ``return``.  into=None (module level):
    at="imports" after ``import numpy as np``, at="top" after SUBTASKS, at="end"
    at the end of the file.
    """
    code = textwrap.dedent(code).strip("\n")
    lines = _lines(source)
    if into is None:
        if at == "imports":
            index = lines.index("import numpy as np") + 1
        elif at == "top":
            index = next(i for i, line in enumerate(lines) if line.startswith("SUBTASKS =")) + 1
            code = "\n" + code
        elif at == "end":
            index = len(lines)
            code = "\n\n" + code + "\n"
        else:
            raise ValueError(at)
        new = code.split("\n")
    else:
        start = lines.index(next(line for line in lines if line.startswith(f"def {into}(")))
        end = start + 1
        while end < len(lines) and (lines[end].startswith(" ") or lines[end] == ""):
            end += 1
        if at == "start":
            index = start + 2  # def line, one-line docstring
            assert lines[start + 1].lstrip().startswith('"""'), into
        elif at == "end":
            index = max(i for i in range(start, end) if lines[i].startswith("    return "))
        else:
            raise ValueError(at)
        new = textwrap.indent(code, "    ", lambda line: True).split("\n")
    return "\n".join(lines[:index] + new + lines[index:])


def replace(old: str, new: str, source: str = BASE_PROGRAM, count: int = 1) -> str:
    assert source.count(old) >= count, old
    return source.replace(old, new, count)


def helper(code: str, source: str = BASE_PROGRAM) -> str:
    """Add a module-level helper function right before ``def has_key``."""
    code = textwrap.dedent(code).strip("\n")
    return replace("def has_key(obs):", code + "\n\n\ndef has_key(obs):", source)


ATTACKS: list[Attack] = []


def add(id: str, family: str, source: str, *codes: str) -> None:
    assert family in FAMILIES, family
    ATTACKS.append(Attack(f"{family}-{id}", family, source, frozenset(codes)))


# Frequently used run-time expectation sets.
TIMEOUT = ("CV302", "CV308", "CV306")
MEMORY = ("CV303", "CV301", "CV302", "CV308", "CV306")
MUTATES_INPUT = ("CV305", "CV310", "CV301")


# ===================================================================== introspection

I = "introspection"
add("class-mro-subclasses", I, inject("""
    classes = ().__class__.__mro__[1].__subclasses__()
    if len(classes) == 0:
        return False
""", into="has_key"), "CV203", "CV209")
add("func-globals", I, inject("""
    scope = has_key.__globals__
    if len(scope) == 0:
        return False
""", into="has_key"), "CV203", "CV209")
add("builtins-name", I, inject("""
    table = __builtins__
    if table is None:
        return False
""", into="door_open"), "CV202", "CV209")
add("np-dict", I, inject("""
    members = np.__dict__
    if len(members) == 0:
        return False
""", into="at_goal"), "CV203", "CV209")
add("np-builtins-attr", I, inject("""
    table = np.__builtins__
    if table is None:
        return False
""", into="has_key"), "CV203", "CV209")
add("func-code-consts", I, inject("""
    consts = door_open.__code__.co_consts
    if len(consts) == 0:
        return False
""", into="door_open"), "CV203", "CV209")
add("func-defaults-closure", I, inject("""
    cells = key_pixels.__closure__
    if cells is not None:
        return False
""", into="has_key"), "CV203", "CV209")
add("obs-array-interface", I, inject("""
    address = obs.__array_interface__["data"][0]
    if address == 0:
        return False
""", into="has_key"), "CV203", "CV209")
add("obs-reduce-ex", I, inject("""
    state = obs.__reduce_ex__(2)
    if len(state) == 0:
        return False
""", into="door_open"), "CV203", "CV209")
add("generator-gi-frame", I, inject("""
    gen = (v for v in (1, 2))
    builtins_of_frame = gen.gi_frame.f_builtins
    if len(builtins_of_frame) == 0:
        return False
""", into="has_key"), "CV201", "CV203")
add("generator-function-frame-walk", I, inject("""
    walker = frames(obs)
    caller = next(walker)
    if caller is None and obs.size < 0:
        return False
""", into="has_key", source=helper('''
    def frames(m):
        """Yield the caller's frame (CVE-style gi_frame / f_back walk)."""
        g = (x for x in (m,))
        yield g.gi_frame.f_back
''')), "CV201", "CV202", "CV203")
add("traceback-tb-frame", I, inject("""
    try:
        probe = 1 // 0
    except ZeroDivisionError as err:
        probe = err.__traceback__.tb_frame.f_back
""", into="door_open"), "CV201", "CV203", "CV209")
add("attributeerror-obj", I, inject("""
    try:
        probe = obs.no_such_attribute
    except AttributeError as err:
        probe = err.obj
""", into="at_goal"), "CV201", "CV203")
add("except-star", I, inject("""
    try:
        total = int(obs.sum())
    except* ValueError:
        total = 0
""", into="at_goal"), "CV201")
add("computed-getattr-dunder", I, inject("""
    name = "_" * 2 + "class" + "_" * 2
    kind = getattr(obs, name)
    if kind is None:
        return False
""", into="has_key"), "CV202")
add("computed-getattr-np-f2py", I, inject("""
    module = getattr(np, "f" + "2py")
    if module is None:
        return False
""", into="door_open"), "CV202")
add("setattr-numpy", I, inject("""
    setattr(np, "count_nonzero", np.sum)
""", into="has_key"), "CV202")
add("vars-np", I, inject("""
    members = vars(np)
    if len(members) == 0:
        return False
""", into="at_goal"), "CV202")
add("dir-np", I, inject("""
    names = dir(np)
    if "f2py" not in names and len(names) < 0:
        return False
""", into="at_goal"), "CV202")
add("type-mro", I, inject("""
    chain = type(obs).mro()
    if len(chain) == 0:
        return False
""", into="has_key"), "CV202", "CV203")
add("type-three-args", I, inject("""
    Fake = type("Fake", (), {"shape": (40, 40, 3)})
    if Fake is None:
        return False
""", into="door_open"), "CV202")
add("str-format-traversal", I, inject("""
    text = "{0.__class__.__mro__}".format(obs)
    if len(text) == 0:
        return False
""", into="has_key"), "CV203", "CV209")
add("str-format-no-dunder", I, inject("""
    text = "{0.ctypes.data}".format(obs)
    if len(text) == 0:
        return False
""", into="door_open"), "CV203")
add("format-map-traversal", I, inject("""
    text = "{o.__class__.__base__}".format_map({"o": obs})
    if len(text) == 0:
        return False
""", into="at_goal"), "CV203", "CV209")
add("string-formatter-get-field", I, inject("""
    import string
    field = string.Formatter().get_field("0.__class__", (obs,), {})
    if field is None:
        return False
""", into="has_key"), "CV201", "CV204")
add("unicode-fullwidth-dunder-attr", I, inject("""
    kind = obs.__\uff43lass__
    if kind is None:
        return False
""", into="has_key"), "CV203", "CV209")
add("unicode-dashed-low-line-dunder", I, inject("""
    kind = obs.__class\ufe4f\ufe4f
    if kind is None:
        return False
""", into="door_open"), "CV203", "CV209")
add("unicode-dunder-import-name", I, inject("""
    module = __import\ufe4d\ufe4d("os")
    if module is None:
        return False
""", into="at_goal"), "CV202", "CV204", "CV209")
add("unicode-fullwidth-eval", I, inject("""
    value = \uff45val("1 + 1")
    if value != 2:
        return False
""", into="has_key"), "CV202")
add("unicode-math-bold-eval", I, inject("""
    value = \U0001d41e\U0001d42f\U0001d41a\U0001d425("2")
    if value != 2:
        return False
""", into="door_open"), "CV202")
add("unicode-guard-name", I, inject("""
    _\uff47etattr_ = None
""", into="at_goal"), "CV202", "CV209")
add("param-guard-shadow", I, replace(
    "def key_pixels(obs):",
    "def key_pixels(obs, _getattr_=getattr):"), "CV202", "CV207", "CV209", "CV210")
add("param-write-guard-shadow", I, replace(
    "def channels(obs):",
    "def channels(obs, _write_=None):"), "CV207", "CV209", "CV210")
add("posonly-guard-shadow", I, helper('''
    def peek(_getattr_, /):
        """Positional-only parameter named like a RestrictedPython guard."""
        return 1
''').replace("    return bool(np.count_nonzero(key_pixels(obs)) < 4)",
             "    return bool(np.count_nonzero(key_pixels(obs)) < 4 + peek(0) - 1)"),
    "CV201", "CV207", "CV209")
add("lambda-default-guard", I, inject("""
    grab = lambda o, _getattr_=getattr: o.shape
    if grab(obs) is None:
        return False
""", into="has_key"), "CV201", "CV202", "CV209")
add("decorator-np-vectorize", I, helper('''
    @np.vectorize
    def clip(v):
        """Element-wise clip, decorated (runs Python from C if it were ever called)."""
        return min(v, 255)
'''), "CV201", "CV203")
add("decorator-passthrough", I, helper('''
    def passthrough(fn):
        """Return the function unchanged (a decorator)."""
        return fn
''').replace("def has_key(obs):", "@passthrough\ndef has_key(obs):"), "CV201")
add("class-magic-methods", I, inject('''
    class Always:
        def __eq__(self, other):
            return True

        def __bool__(self):
            return True
''', at="top").replace(
    "    return bool(((green_tiles > 0) & (red_tiles > 0)).any())",
    "    return bool(((green_tiles > 0) & (red_tiles > 0)).any()) or Always() == 0"),
    "CV201", "CV208", "CV209")
add("class-plain", I, inject('''
    class Box:
        size = 8
''', at="top"), "CV201", "CV208")
add("dunder-import", I, inject("""
    module = __import__("os")
    if module is None:
        return False
""", into="has_key"), "CV202", "CV204", "CV209")
add("module-dunder-name", I, inject("""
    if __name__ == "program":
        TILE = 8
""", at="end"), "CV201", "CV202", "CV208", "CV209")
add("obs-base", I, inject("""
    parent = obs.base
    if parent is not None and parent.size < 0:
        return False
""", into="has_key"), "CV203")
add("obs-ctypes", I, inject("""
    address = obs.ctypes.data
    if address == 0:
        return False
""", into="door_open"), "CV203")
add("np-lib", I, inject("""
    mixins = np.lib.mixins
    if mixins is None:
        return False
""", into="at_goal"), "CV203")
add("np-linalg-internals", I, inject("""
    driver = np.linalg.lapack_lite
    if driver is None:
        return False
""", into="at_goal"), "CV203")
add("np-linalg-alias", I, inject("""
    module = np.linalg
    if module.norm(obs[0, 0]) < 0:
        return False
""", into="door_open"), "CV203")
add("np-linalg-other-function", I, inject("""
    if np.linalg.inv(np.eye(3)).sum() < 0:
        return False
""", into="has_key"), "CV203")
add("np-core", I, inject("""
    multiarray = np.core.multiarray
    if multiarray is None:
        return False
""", into="has_key"), "CV203")
add("np-ndarray-class", I, inject("""
    kind = np.ndarray
    if kind is None:
        return False
""", into="door_open"), "CV203")
add("match-class-pattern", I, inject("""
    match obs:
        case np.ndarray(shape=s):
            pass
""", into="at_goal"), "CV201", "CV203")
add("subtasks-names-builtin", I, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = ("has_key", "door_open", "at_goal", "print")'), "CV202", "CV205", "CV206")


# Annotations are never evaluated by the sandbox, but any other consumer of the
# source (a later stage, an `import` of the file) would evaluate them.
add("annotation-dunder-import", I, replace(
    "def has_key(obs):",
    f'def has_key(obs: __import__("os").system("touch {MARK_TMP}")):'), "CV202", "CV209")
add("return-annotation-eval", I, replace(
    "def door_open(obs):",
    'def door_open(obs) -> eval("1"):'), "CV202")
add("module-annotation-getattr", I, replace(
    "TILE = 8",
    'TILE: getattr(np, "f2py") = 8'), "CV202", "CV208")

add("module-annotation-dunder-import", I, replace(
    "TILE = 8",
    'TILE: __import__("os").system("touch {}") = 8'.format(MARK_TMP)), "CV202", "CV208", "CV209")
add("fstring-dunder", I, inject("""
    text = f"{obs.__class__}"
    if len(text) == 0:
        return False
""", into="has_key"), "CV201", "CV203", "CV209")

# RestrictedPython's own names: `print` and `printed` are its print collector, and it
# refuses `builtins`, `breakpoint` and names ending in __roles__ (Zope's security
# declarations).  Our policy has no reason to refuse these spellings, so these are the
# attacks that reach RestrictedPython's compile with the policy out of the way: CV211
# or nothing.
_GOAL_DOC = '    """The agent (red) stands on the goal tile (green)."""'
for _name in ("printed", "print", "builtins", "breakpoint", "door__roles__"):
    add(f"restricted-reserved-name-{_name.replace('_', '-')}", I,
        replace(_GOAL_DOC, f"{_GOAL_DOC}\n    {_name} = obs.shape[0]"), "CV211")
add("restricted-reserved-parameter-printed", I, helper('''
    def tiles(obs, printed=8):
        """The frame's height in tiles; the default shadows RestrictedPython's print collector."""
        return obs.shape[0] // printed
'''), "CV211")


# ========================================================================= import_io

IO = "import_io"
add("import-os", IO, inject("import os", at="imports").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    if os.sep == "?":\n        return False'), "CV204")
add("import-sys-in-function", IO, inject("""
    import sys
    if sys.maxsize == 0:
        return False
""", into="door_open"), "CV201", "CV204")
add("import-subprocess", IO, inject("import subprocess", at="imports").replace(
    '    """The agent (red) stands on the goal tile (green)."""',
    '    """The agent (red) stands on the goal tile (green)."""\n'
    f'    subprocess.run(("touch", "{MARK_TMP}"))'), "CV204")
add("import-importlib", IO, inject("""
    import importlib
    os_module = importlib.import_module("os")
    os_module.system("touch %s")
""" % MARK_FILE, into="has_key"), "CV201", "CV204")
add("from-numpy-star", IO, inject("from numpy import *", at="imports"), "CV201", "CV204")
add("import-numpy-f2py", IO, inject("import numpy.f2py", at="imports"), "CV204")
add("from-numpy-import-f2py", IO, inject("from numpy import f2py", at="imports"), "CV204")
add("import-numpy-and-os", IO, replace("import numpy as np", "import numpy as np, os"), "CV204")
# The allowlist must follow the module, not the spelling "np".
add("numpy-unaliased-save", IO, inject(f"""
    numpy.save("{MARKER}-frame.npy", obs)
""", into="has_key", source=replace("import numpy as np", "import numpy as np\nimport numpy")),
    "CV203", "CV204")
add("numpy-alias-xp-savetxt", IO, inject(f"""
    xp.savetxt("{MARKER}-frame.txt", obs[:, :, 0])
""", into="door_open", source=replace("import numpy as np", "import numpy as np\nimport numpy as xp")),
    "CV203", "CV204")
add("np-f2py-os-system", IO, inject(f"""
    np.f2py.os.system("touch {MARK_FILE} {MARK_TMP}")
""", into="has_key"), "CV203")
add("np-f2py-subprocess-sleeper", IO, inject(f"""
    np.f2py.subprocess.Popen(("sh", "-c", "sleep 60; echo {MARKER}"))
""", into="door_open"), "CV203")
add("np-f2py-environ-leak", IO, inject("""
    leak = int(np.f2py.os.environ.get("CARVERIFY_TEST_SECRET", ""))
    if leak == 0:
        return False
""", into="at_goal"), "CV203")
add("open-write", IO, inject(f"""
    handle = open("{MARK_FILE}", "w")
    handle.write("owned")
    handle.close()
""", into="has_key"), "CV202")
add("open-write-tmp", IO, inject(f"""
    open("{MARK_TMP}", "w").close()
""", into="door_open"), "CV202")
add("open-read-environ-leak", IO, inject("""
    text = open("/proc/self/environ").read()
    if int(text[text.find("CARVERIFY_TEST_SECRET"):]) == 0:
        return False
""", into="at_goal"), "CV202")
add("eval", IO, inject("""
    value = eval("1 + 1")
    if value != 2:
        return False
""", into="has_key"), "CV202")
add("exec", IO, inject("""
    exec("value = 2")
""", into="door_open"), "CV202")
add("compile", IO, inject("""
    code = compile("1 + 1", "x", "eval")
    if code is None:
        return False
""", into="at_goal"), "CV202")
add("globals", IO, inject("""
    scope = globals()
    if len(scope) == 0:
        return False
""", into="has_key"), "CV202")
add("vars-noarg", IO, inject("""
    scope = vars()
    if len(scope) < 0:
        return False
""", into="door_open"), "CV202")
add("locals", IO, inject("""
    scope = locals()
    if len(scope) < 0:
        return False
""", into="door_open"), "CV202")
add("input", IO, inject("""
    line = input()
    if line == "stop":
        return False
""", into="at_goal"), "CV202")
add("breakpoint", IO, inject("""
    breakpoint()
""", into="has_key"), "CV202")
add("help", IO, inject("""
    help(np)
""", into="door_open"), "CV202")
add("np-save", IO, inject(f"""
    np.save("{MARKER}-frame.npy", obs)
""", into="has_key"), "CV203")
add("np-savez", IO, inject(f"""
    np.savez("/tmp/{MARKER}-frame.npz", frame=obs)
""", into="door_open"), "CV203", "CV210")
add("np-savetxt", IO, inject(f"""
    np.savetxt("{MARKER}-frame.txt", obs[:, :, 0])
""", into="at_goal"), "CV203")
add("np-load-pickle", IO, inject("""
    data = np.load("/etc/hostname", allow_pickle=True)
    if data is None:
        return False
""", into="has_key"), "CV203", "CV210")
add("np-fromfile", IO, inject("""
    raw = np.fromfile("/etc/hostname", np.uint8)
    if raw.size < 0:
        return False
""", into="door_open"), "CV203")
add("np-genfromtxt", IO, inject("""
    rows = np.genfromtxt("/etc/hostname", dtype=str)
    if rows is None:
        return False
""", into="at_goal"), "CV203", "CV210")
add("np-loadtxt", IO, inject("""
    rows = np.loadtxt("/etc/hostname", dtype=str)
    if rows is None:
        return False
""", into="has_key"), "CV203", "CV210")
add("np-memmap", IO, inject(f"""
    mapped = np.memmap("{MARKER}-map.dat", np.uint8, "w+", 0, (8,))
    mapped[0] = 1
""", into="door_open"), "CV203")
add("obs-tofile", IO, inject(f"""
    obs.tofile("{MARKER}-frame.bin")
""", into="at_goal"), "CV203")
add("obs-dump", IO, inject(f"""
    obs.dump("{MARKER}-frame.pkl")
""", into="has_key"), "CV203")
add("np-datasource", IO, inject("""
    source = np.lib.npyio.DataSource(None)
    text = source.open("/etc/hostname").read()
    if len(text) < 0:
        return False
""", into="door_open"), "CV203")
add("np-ctypeslib", IO, inject("""
    raw = np.ctypeslib.as_ctypes(obs)
    if raw is None:
        return False
""", into="at_goal"), "CV203")
add("np-testing", IO, inject("""
    np.testing.assert_array_equal(obs, obs)
""", into="has_key"), "CV203")
add("np-lib-format-open-memmap", IO, inject(f"""
    mapped = np.lib.format.open_memmap("{MARKER}-mm.npy", "w+", np.uint8, (2,))
    mapped[0] = 1
""", into="door_open"), "CV203")
add("np-info-output", IO, inject("""
    np.info(np.count_nonzero)
""", into="at_goal"), "CV203")


add("dead-branch-f2py", IO, inject(f"""
    if obs.shape[0] == 41:
        np.f2py.os.system("touch {MARK_TMP}")
""", into="at_goal"), "CV203")

add("subtasks-annotation-eval", IO, replace(
    "SUBTASKS = (", 'SUBTASKS: eval("__import__(\'os\')") = ('), "CV202", "CV205", "CV208")


# ===================================================================== memory_safety

M = "memory_safety"
add("as-strided-out-of-bounds", M, inject("""
    window = np.lib.stride_tricks.as_strided(obs, (4096, 4096), (1, 1))
    if int(window.sum()) < 0:
        return False
""", into="has_key"), "CV203", "CV210")
add("as-strided-kwargs", M, inject("""
    window = np.lib.stride_tricks.as_strided(obs, shape=(1 << 20,), strides=(8,))
    if int(window.max()) > 255:
        return False
""", into="door_open"), "CV203", "CV210")
add("import-as-strided", M, inject("from numpy.lib.stride_tricks import as_strided", at="imports"),
    "CV204")
add("frombuffer", M, inject("""
    raw = np.frombuffer(obs, np.uint8)
    if raw.size == 0:
        return False
""", into="at_goal"), "CV203")
add("empty-uninitialised", M, inject("""
    scratch = np.empty((40, 40, 3), np.uint8)
    if int(scratch.max()) > 200:
        return False
""", into="has_key"), "CV203")
add("empty-like-uninitialised", M, inject("""
    scratch = np.empty_like(obs)
    if int(scratch.sum()) % 2 == 1:
        return False
""", into="door_open"), "CV203")
add("dtype-object-keyword", M, inject("""
    cells = np.zeros(4, dtype=object)
    if cells.size == 0:
        return False
""", into="at_goal"), "CV202", "CV210")
add("dtype-O-string", M, inject("""
    cells = np.zeros(4, dtype="O")
    if cells.size == 0:
        return False
""", into="has_key"), "CV211", "CV301", "CV310")
add("astype-object", M, inject("""
    boxed = obs.astype(object)
    if boxed.size == 0:
        return False
""", into="door_open"), "CV202", "CV210")
add("astype-O-positional", M, inject("""
    boxed = obs.astype("O")
    if boxed.size == 0:
        return False
""", into="at_goal"), "CV211", "CV301", "CV310")
add("np-object-dtype-name", M, inject("""
    boxed = np.array(obs, np.object_)
    if boxed.size == 0:
        return False
""", into="has_key"), "CV203", "CV210")
add("np-dtype-O", M, inject("""
    kind = np.dtype("O")
    boxed = np.zeros(2, kind)
    if boxed.size == 0:
        return False
""", into="door_open"), "CV203", "CV210")
add("array-of-functions", M, inject("""
    table = np.array((has_key, door_open))
    if table.size == 0:
        return False
""", into="at_goal"), "CV211", "CV301", "CV310")
add("frompyfunc", M, inject("""
    boxed = np.frompyfunc(int, 1, 1)(obs)
    if boxed.size == 0:
        return False
""", into="has_key"), "CV203", "CV202")
add("vectorize", M, inject("""
    call = np.vectorize(bool)
    if call(obs).size == 0:
        return False
""", into="door_open"), "CV203", "CV202")
add("ndarray-constructor-buffer", M, inject("""
    alias = np.ndarray((obs.size,), np.uint8, buffer=obs)
    if alias.size == 0:
        return False
""", into="at_goal"), "CV203", "CV210")
add("obs-data-memoryview", M, inject("""
    view = obs.data
    if view.nbytes == 0:
        return False
""", into="has_key"), "CV203")
add("memoryview-builtin", M, inject("""
    view = memoryview(obs)
    if view.nbytes == 0:
        return False
""", into="door_open"), "CV202")


add("numpy-alias-empty", M, inject("""
    scratch = xp.empty((40, 40, 3), xp.uint8)
    if int(scratch.max()) > 200:
        return False
""", into="at_goal", source=replace("import numpy as np", "import numpy as np\nimport numpy as xp")),
    "CV203", "CV204")
add("module-alias-dtype", M, inject("""
    xp = np
    boxed = np.zeros(2, xp.dtype("O"))
    if boxed.size == 0:
        return False
""", into="has_key"), "CV211", "CV301", "CV310")
add("astype-object-string", M, inject("""
    boxed = obs.astype("object")
    if boxed.size == 0:
        return False
""", into="door_open"), "CV211", "CV301", "CV310")
add("structured-dtype-object-field", M, inject("""
    record = np.zeros(2, [("f", "O")])
    if record.size == 0:
        return False
""", into="at_goal"), "CV211", "CV301", "CV310")
add("structured-dtype-string-spec", M, inject("""
    record = np.zeros(2, "O,i4")
    if record.size == 0:
        return False
""", into="has_key"), "CV211", "CV301", "CV310")
add("array-of-none", M, inject("""
    holes = np.array((None, None))
    if holes.size == 0:
        return False
""", into="door_open"), "CV211", "CV301", "CV310")


add("c-stack-overflow-tuple-hash", M, inject("""
    nest = ()
    for i in range(300000):
        nest = (nest,)
    table = {}
    table[nest] = 1
""", into="has_key"), "CV306", "CV301", "CV302", "CV303", "CV308")


add("kwargs-unpack-dtype-object", M, inject("""
    boxed = np.zeros(3, **{"dtype": "O"})
    if boxed.size == 0:
        return False
""", into="door_open"), "CV201", "CV210")

# ========================================================================== resource

R = "resource"
add("while-true", R, inject("""
    while True:
        pass
""", into="has_key"), *TIMEOUT)
add("while-true-swallow-baseexception", R, inject("""
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
""", into="door_open"), "CV201")
add("unbounded-counter", R, inject("""
    n = 1
    while n > 0:
        n += 1
""", into="at_goal"), *TIMEOUT)
add("huge-pow-literal", R, inject("""
    big = 10**10**10
    if big == 0:
        return False
""", into="has_key"), *MEMORY)
add("huge-pow-variables", R, inject("""
    n = 10
    big = n ** n ** n
    if big == 0:
        return False
""", into="door_open"), "CV213")
add("huge-string", R, inject("""
    text = "a" * 10**10
    if len(text) == 0:
        return False
""", into="at_goal"), *MEMORY)
add("huge-list", R, inject("""
    cells = [0] * 10**10
    if len(cells) == 0:
        return False
""", into="has_key"), *MEMORY)
add("huge-array", R, inject("""
    plane = np.zeros(10**11)
    if plane.size == 0:
        return False
""", into="door_open"), *MEMORY, "CV310")
add("array-doubling", R, inject("""
    grow = obs.astype(np.float64)
    while True:
        grow = np.zeros(grow.size * 2) + grow.sum()
""", into="at_goal"), *MEMORY)
add("list-append-growth", R, inject("""
    keep = []
    while True:
        keep.append(obs.astype(np.float64))
""", into="has_key"), *MEMORY)
add("deep-recursion", R, helper('''
    def descend(n):
        """Never stops."""
        return descend(n + 1)
''').replace('    """The key was picked up: no key-yellow pixels are left on the floor."""',
             '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
             '    if descend(0) == 0:\n        return False'),
    *MEMORY)
add("print-flood", R, inject("""
    for i in range(10**7):
        print(obs)
""", into="door_open"), "CV202")
add("repr-flood", R, inject("""
    text = repr(obs)
    while True:
        text = text + repr(obs)
""", into="at_goal"), "CV202")
add("exception-message-flood", R, inject("""
    assert obs.size < 0, "x" * 10**7
""", into="has_key"), "CV301", "CV303")
add("range-sum-loop", R, inject("""
    total = 0
    for i in range(10**18):
        total += i
""", into="door_open"), *TIMEOUT)
add("hash-collision-dict", R, inject("""
    table = {}
    step = 2**61 - 1
    for i in range(300000):
        table[i * step] = i
""", into="at_goal"), *MEMORY)
add("data-dependent-loop", R, inject("""
    for i in range(int(obs.astype(np.int64).sum()) ** 3):
        pass
""", into="has_key"), *TIMEOUT)
add("numpy-c-level-work", R, inject("""
    square = np.ones((3000, 3000))
    for i in range(10**6):
        square = np.linalg.matrix_power(square, 64)
""", into="door_open"), "CV203")


add("pow-builtin-huge", R, inject("""
    big = pow(10, pow(10, 10))
    if big == 0:
        return False
""", into="has_key"), "CV213")
add("builtin-sum-range", R, inject("""
    total = sum(range(10**15))
    if total == 0:
        return False
""", into="door_open"), *TIMEOUT)
add("builtin-max-range", R, inject("""
    top = max(range(10**15))
    if top == 0:
        return False
""", into="at_goal"), *TIMEOUT)
add("list-of-range-huge", R, inject("""
    cells = list(range(10**10))
    if len(cells) == 0:
        return False
""", into="has_key"), *MEMORY)
add("outer-product-huge", R, inject("""
    table = np.outer(np.arange(10**6), np.arange(10**6))
    if table.size == 0:
        return False
""", into="door_open"), *MEMORY, "CV211", "CV301", "CV310")
add("module-level-huge-pow", R, inject("BIG = 10**10**10", at="top"),
    "CV309", *MEMORY)
add("module-level-huge-string", R, inject('PAD = "a" * 10**10', at="top"),
    "CV309", *MEMORY)
add("module-level-huge-array", R, inject("PLANE = np.zeros(10**11)", at="top"),
    "CV208")


add("loop-only-at-goal", R, replace(
    "    return bool(((green_tiles > 0) & (red_tiles > 0)).any())",
    "    while ((green_tiles > 0) & (red_tiles > 0)).any():\n"
    "        green_tiles = green_tiles + 0\n"
    "    return False"), *TIMEOUT)
add("returns-huge-list", R, replace(
    "    return bool(np.count_nonzero(key_pixels(obs)) < 4)",
    "    return list(range(10**7))"), "CV304", *MEMORY)
add("finding-flood", R, inject(
    "\n".join("    v%d = eval" % i for i in range(3000)), into="door_open"), "CV202")


# Each call stays under the per-call limit (~0.5 s here), but 3 checks x every suite
# frame add up to more CPU than the child may use: the whole-child CPU/wall limits
# must end it (and the audit must still finish within wall_seconds + margin).
add("cumulative-cpu-under-per-call-limit", R, inject("""
    total = 0
    for i in range(4000000):
        total += 1
""", into="has_key", source=inject("""
    total = 0
    for i in range(4000000):
        total += 1
""", into="door_open", source=inject("""
    total = 0
    for i in range(4000000):
        total += 1
""", into="at_goal"))), *TIMEOUT)


add("module-array-from-huge-tuple", R, inject("ZEROS = np.array((0,) * 10**9)", at="top"),
    "CV309", *MEMORY)

add("fstring-huge-width", R, inject("""
    width = 10**9
    text = f"{1:>{width}}"
    if len(text) == 0:
        return False
""", into="door_open"), "CV201")
add("percent-format-huge-width", R, inject("""
    text = "%*d" % (10**9, 1)
    if len(text) == 0:
        return False
""", into="at_goal"), "CV211", *MEMORY)

# ====================================================================== side_effects

S = "side_effects"
# Module-level dicts of constants are allowed and frozen after loading: state smuggled through
# one must fail at run time (or earlier), never carry from one call to the next.
add("module-dict-write-through-alias", S, inject("""
    state = CALLS
    state["n"] = state["n"] + 1
    if state["n"] > 5:
        return False
""", into="has_key", source=inject('CALLS = {"n": 0}', at="top")), "CV310", "CV301")
add("module-dict-array-value-write", S, inject("""
    row = TABLE["m"]
    row[0] = row[0] + 1
    if row[0] > 5:
        return False
""", into="door_open", source=inject('TABLE = {"m": np.array([0, 0])}', at="top")), *MUTATES_INPUT)
add("module-dict-update", S, inject("""
    CALLS.update({"n": 1})
""", into="at_goal", source=inject('CALLS = {"n": 0}', at="top")), "CV203")
add("module-dict-nested-mutable", S, inject('CALLS = {"seen": {}}', at="top"), "CV208")
add("module-dict-computed-key", S, inject('CALLS = {str(1): 0}', at="top"), "CV208")
add("obs-ellipsis-assign", S, inject("""
    obs[...] = 0
""", into="has_key", at="end"), *MUTATES_INPUT, "CV211")
add("obs-slice-assign-after-result", S, inject("""
    answer = bool(np.count_nonzero(inner) < 3)
    obs[0:8, :, :] = 0
    return answer
""", into="door_open", at="end"), *MUTATES_INPUT, "CV211")
add("obs-iadd", S, inject("""
    obs += 1
""", into="at_goal"), *MUTATES_INPUT, "CV211")
add("obs-item-iadd", S, inject("""
    obs[0, 0, 0] += 1
""", into="has_key"), *MUTATES_INPUT, "CV211")
add("obs-fill", S, inject("""
    obs.fill(0)
""", into="door_open", at="end"), "CV203", "CV201")
add("obs-sort", S, inject("""
    obs.sort()
""", into="at_goal", at="end"), "CV203", "CV201")
add("np-add-out", S, inject("""
    np.add(obs, 1, out=obs)
""", into="has_key"), "CV210", "CV203")
add("setflags-write", S, inject("""
    obs.setflags(write=True)
    obs[0, 0, 0] = 7
""", into="door_open"), "CV203", "CV210", "CV201")
add("np-copyto", S, inject("""
    np.copyto(obs, 0)
""", into="at_goal", at="end"), "CV203")
add("np-put", S, inject("""
    np.put(obs, (0, 1, 2), 9)
""", into="has_key", at="end"), "CV203")
add("np-place", S, inject("""
    np.place(obs, obs > 200, 0)
""", into="door_open", at="end"), "CV203")
add("np-putmask", S, inject("""
    np.putmask(obs, obs > 200, 0)
""", into="at_goal", at="end"), "CV203")
add("np-fill-diagonal", S, inject("""
    np.fill_diagonal(obs[:, :, 0], 3)
""", into="has_key", at="end"), "CV203")
add("reshape-view-write", S, inject("""
    flat = obs.reshape(-1)
    flat[0] = flat[0] + 1
""", into="door_open", at="end"), *MUTATES_INPUT)
add("row-view-write", S, inject("""
    row = obs[0]
    row[:] = 0
""", into="at_goal", at="end"), *MUTATES_INPUT)
add("alias-write", S, inject("""
    frame = obs
    frame[0, 0] = 7
""", into="has_key", at="end"), *MUTATES_INPUT)
add("helper-writes-argument", S, helper('''
    def clear_border(m):
        """Blank the outer wall ring (on whatever array it is given)."""
        m[0, :] = 0
        return m
''').replace("    r, g, b = channels(obs)\n    edge =", "    clear_border(obs)\n    r, g, b = channels(obs)\n    edge =", 1),
    *MUTATES_INPUT)
add("flat-iterator-write", S, inject("""
    obs.flat[0] = 7
""", into="at_goal", at="end"), "CV203", "CV201")
add("module-list-mutated", S, inject("SEEN = []", at="top").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    SEEN.append(1)'), "CV201", "CV203", "CV208")
add("module-dict-mutated", S, inject("CACHE = {}", at="top").replace(
    '    """A locked or closed door paints a yellow frame along its tile\'s bottom edge."""',
    '    """A locked or closed door paints a yellow frame along its tile\'s bottom edge."""\n'
    '    CACHE["calls"] = len(CACHE) + 1'), "CV201", "CV208")
add("global-counter", S, inject("CALLS = 0", at="top").replace(
    '    """The agent (red) stands on the goal tile (green)."""',
    '    """The agent (red) stands on the goal tile (green)."""\n'
    '    global CALLS\n    CALLS += 1'), "CV201", "CV208")
add("module-array-constant-mutated", S, inject("OFFSET = np.array((0, 0, 0))", at="top").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    OFFSET[0] = OFFSET[0] + 1'), "CV201", "CV208")
add("mutable-default-argument", S, helper('''
    def remember(value, memo=[]):
        """Hidden state in a mutable default argument."""
        memo.append(value)
        return len(memo)
''').replace("    return bool(np.count_nonzero(key_pixels(obs)) < 4)",
             "    return bool(np.count_nonzero(key_pixels(obs)) < 4 + remember(1) * 0)"),
    "CV201", "CV203", "CV208", "CV210")
add("function-attribute-state", S, inject("""
    has_key.calls = 1
""", into="has_key"), "CV201", "CV203")
add("numpy-module-attribute-assign", S, inject("""
    np.pi = 3
""", into="door_open"), "CV201", "CV203")
add("np-seterr", S, inject("""
    np.seterr(all="ignore")
""", into="at_goal"), "CV203", "CV210")
add("np-random-seed", S, inject("""
    np.random.seed(1234)
""", into="has_key"), "CV203")
add("np-set-printoptions", S, inject("""
    np.set_printoptions(threshold=10)
""", into="door_open"), "CV203", "CV210")


add("module-array-alias-write", S, inject("OFFSET = np.array((0, 0, 0))", at="top").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    shift = OFFSET\n    shift[0] = 1'), "CV211", *MUTATES_INPUT)
add("astype-copy-false-write", S, inject("""
    same = obs.astype(np.uint8, copy=False)
    same[0, 0, 0] = 7
""", into="door_open", at="end"), *MUTATES_INPUT)
add("asarray-alias-write", S, inject("""
    same = np.asarray(obs)
    same[0, 0, 0] = 7
""", into="at_goal", at="end"), *MUTATES_INPUT)
add("np-add-positional-out", S, inject("""
    np.add(obs, 1, obs)
""", into="has_key", at="end"), *MUTATES_INPUT)
add("array-clip-positional-out", S, inject("""
    obs.clip(0, 100, obs)
""", into="door_open", at="end"), *MUTATES_INPUT)
add("np-minimum-positional-out-constant", S, inject("LIMIT = np.array((255, 255, 255))", at="top").replace(
    '    """The agent (red) stands on the goal tile (green)."""',
    '    """The agent (red) stands on the goal tile (green)."""\n'
    '    np.minimum(LIMIT, 0, LIMIT)'), "CV211", *MUTATES_INPUT)


add("mutation-only-when-door-open", S, replace(
    "    return bool(np.count_nonzero(inner) < 3)",
    "    if np.count_nonzero(inner) < 3:\n"
    "        obs[0, 0, 0] = 0\n"
    "    return bool(np.count_nonzero(inner) < 3)"), *MUTATES_INPUT, "CV211")
add("module-tuple-containing-list", S, inject("STATE = ([],)", at="top").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    memory = STATE[0]\n    memory += [1]\n    if len(memory) > 2:\n        return True'),
    "CV201", "CV208")


add("kwargs-unpack-out", S, inject("""
    np.add(obs, 1, **{"out": obs})
""", into="has_key", at="end"), "CV201", "CV210")

# ==================================================================== nondeterminism

N = "nondeterminism"
add("hash-str", N, replace(
    "    return bool(np.count_nonzero(key_pixels(obs)) < 4)",
    '    return bool(np.count_nonzero(key_pixels(obs)) < 4 and hash("door") % 97 != 0)'),
    "CV202")
add("id-parity", N, replace(
    "    return bool(np.count_nonzero(inner) < 3)",
    "    return bool(np.count_nonzero(inner) < 3 or id(obs) % 4096 == 0)"), "CV202")
add("id-of-new-object", N, inject("""
    if id(object()) % 4096 == 0:
        return True
""", into="at_goal"), "CV202")
add("np-random-rand", N, inject("""
    if np.random.rand() < 0.001:
        return True
""", into="has_key"), "CV203")
add("np-random-default-rng", N, inject("""
    rng = np.random.default_rng()
    if rng.random() < 0.001:
        return True
""", into="door_open"), "CV203")
add("import-random", N, inject("""
    import random
    if random.random() < 0.001:
        return True
""", into="at_goal"), "CV201", "CV204")
add("import-time", N, inject("import time", at="imports").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    if int(time.time()) % 1000 == 0:\n        return True'), "CV204")
add("os-urandom", N, inject("import os", at="imports").replace(
    '    """The agent (red) stands on the goal tile (green)."""',
    '    """The agent (red) stands on the goal tile (green)."""\n'
    '    if os.urandom(1)[0] == 0:\n        return True'), "CV204")
add("np-datetime64-now", N, inject("""
    tick = np.datetime64("now").astype(np.int64)
    if tick % 1000 == 0:
        return True
""", into="door_open"), "CV203", "CV210")
add("set-iteration-strings", N, inject("""
    order = ""
    for name in {"key", "door", "goal"}:
        order = order + name
    if order[0] == "d":
        return True
""", into="has_key"), "CV201")
add("set-iteration-functions", N, inject("""
    position = 0
    for check in {has_key, door_open, at_goal}:
        if check is door_open:
            break
        position += 1
    if position == 0:
        return True
""", into="at_goal"), "CV201", "CV202")
add("ctypes-address-parity", N, inject("""
    if obs.ctypes.data % 4096 == 0:
        return True
""", into="door_open"), "CV203")


# numpy parses "now" in datetime dtypes from strings: the clock without np.datetime64.
add("datetime-now-via-dtype-string", N, inject("""
    tick = np.array("now", "datetime64[s]").astype(np.int64)
    if tick % 1000 == 0:
        return True
""", into="has_key"), "CV211", "CV301", "CV310", "CV403")
add("datetime-now-via-astype", N, inject("""
    tick = np.array(("now",)).astype("M8[s]").astype(np.int64)
    if tick[0] % 1000 == 0:
        return True
""", into="door_open"), "CV211", "CV301", "CV310", "CV403")

# ====================================================================== control_flow

C = "control_flow"
add("raise-systemexit", C, inject("""
    raise SystemExit(0)
""", into="has_key"), "CV201", "CV202")
add("raise-keyboardinterrupt", C, inject("""
    if np.count_nonzero(edge) >= 0:
        raise KeyboardInterrupt
""", into="door_open", at="end"), "CV201", "CV202")
add("raise-generatorexit", C, inject("""
    raise GeneratorExit
""", into="at_goal"), "CV201", "CV202")
add("exit-builtin", C, inject("""
    exit(0)
""", into="has_key"), "CV202")
add("quit-builtin", C, inject("""
    quit()
""", into="door_open"), "CV202")
add("sys-exit", C, inject("import sys", at="imports").replace(
    '    """The agent (red) stands on the goal tile (green)."""',
    '    """The agent (red) stands on the goal tile (green)."""\n'
    '    sys.exit(0)'), "CV204")
add("np-f2py-sys-exit", C, inject("""
    np.f2py.sys.exit(0)
""", into="has_key"), "CV203")
add("os-exit-zero", C, inject("""
    np.f2py.os._exit(0)
""", into="door_open"), "CV203", "CV209")
add("generator-throw", C, inject("""
    gen = (v for v in (1, 2))
    next(gen)
    gen.throw(GeneratorExit)
""", into="at_goal"), "CV202", "CV203")
add("generator-close-finally", C, helper('''
    def stopper(m):
        """A generator whose clean-up raises SystemExit."""
        try:
            yield m
        finally:
            raise SystemExit(0)
''').replace('    """The key was picked up: no key-yellow pixels are left on the floor."""',
             '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
             '    gen = stopper(obs)\n    next(gen)\n    gen.close()'),
    "CV201", "CV202", "CV203")
add("assert-false-module-level", C, inject("assert False", at="top"),
    "CV201", "CV208")
add("raise-module-level", C, inject("raise SystemExit(0)", at="end"),
    "CV201", "CV202", "CV208")
# Module-level constants the policy allows (arithmetic on literals and np.array of
# literals) that raise while the module loads in the sandbox: CV309 or nothing.
add("module-level-zero-division", C, inject("SCALE = TILE // 0", at="end"), "CV309")
add("module-level-broadcast-error", C, inject("PAIR = np.array((1, 2)) + np.array((1, 2, 3))", at="top"),
    "CV309")
add("module-level-string-plus-int", C, inject('LABEL = "tile" + 8', at="top"), "CV309")
add("kill-parent", C, inject("import os", at="imports").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    os.kill(os.getppid(), 15)'), "CV204")
add("np-f2py-kill-parent", C, inject("""
    np.f2py.os.kill(np.f2py.os.getppid(), 15)
""", into="at_goal"), "CV203")


add("exception-unprintable-message", C, inject("""
    assert obs.size < 0, 10**5000
""", into="door_open"), "CV301", "CV306", "CV307")


# ============================================================================ syntax

X = "syntax"
add("missing-colon", X, replace("def has_key(obs):", "def has_key(obs)"), "CV101")
add("bad-indent", X, replace("    rgb = obs.astype(np.int32)", "      rgb = obs.astype(np.int32)"), "CV101")
add("null-byte", X, replace("TILE = 8\n", "TILE = 8  # tile size\x00\n"), "CV101", "CV104")
add("lone-surrogate", X, inject('LABEL = "key\udcff"', at="top"), "CV104", "CV101")
add("oversize-tuple-constant", X, inject(
    "PAD = (" + ", ".join(str(i) for i in range(20000)) + ")", at="top"), "CV102")
add("oversize-comment", X, inject(
    "\n".join("# " + "padding " * 9 for _ in range(1000)), at="top"), "CV102")
add("ast-depth-unary", X, inject("""
    flag = %sTrue
""" % ("not " * 200), into="has_key"), "CV103")
add("ast-depth-binop-chain", X, inject("""
    total = %s
""" % " + ".join(["0"] * 1000), into="door_open"), "CV103", "CV101")
add("ast-depth-nested-lists", X, inject("""
    nest = %s0%s
""" % ("[" * 150, "]" * 150), into="at_goal"), "CV103", "CV101")
add("missing-subtasks", X, replace('SUBTASKS = ("has_key", "door_open", "at_goal")\n', ""), "CV205")
add("subtasks-unknown-function", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = ("has_key", "door_open", "at_goal", "reached_exit")'), "CV205", "CV206")
add("subtask-function-missing", X, replace("def at_goal(obs):", "def at_goal_check(obs):"), "CV206")
add("subtask-two-params", X, replace("def door_open(obs):", "def door_open(obs, previous):"), "CV207")
add("subtask-varargs", X, replace("def at_goal(obs):", "def at_goal(*frames):\n    obs = frames[0]"),
    "CV201", "CV207")
add("subtask-async", X, replace("def at_goal(obs):", "async def at_goal(obs):"), "CV201", "CV207")
add("subtasks-runtime-list", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = list(("has_key", "door_open", "at_goal"))'), "CV201", "CV202", "CV205", "CV208")
add("subtasks-comprehension", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = tuple(n for n in ("has_key", "door_open", "at_goal"))'), "CV201", "CV202", "CV205", "CV208")
add("returns-array", X, replace(
    "    return bool(np.count_nonzero(key_pixels(obs)) < 4)",
    "    return key_pixels(obs)"), "CV304")
add("returns-none-sometimes", X, replace(
    "    return bool(((green_tiles > 0) & (red_tiles > 0)).any())",
    "    if ((green_tiles > 0) & (red_tiles > 0)).any():\n        return True"), "CV304")


add("subtasks-duplicate", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = ("has_key", "has_key", "door_open", "at_goal")'), "CV205")
add("subtasks-empty", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")', "SUBTASKS = ()"), "CV205")
add("subtasks-not-strings", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = ("has_key", "door_open", 3)'), "CV205")


add("subtasks-fullwidth-name", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = ("\uff48as_key", "door_open", "at_goal")'), "CV205", "CV206")
add("returns-int", X, replace(
    "    return bool(np.count_nonzero(key_pixels(obs)) < 4)",
    "    return int(np.count_nonzero(key_pixels(obs)) < 4)"), "CV304")
add("returns-0d-array", X, replace(
    "    return bool(np.count_nonzero(inner) < 3)",
    "    return np.array(np.count_nonzero(inner) < 3)"), "CV304")
add("returns-unprintable-int", X, replace(
    "    return bool(((green_tiles > 0) & (red_tiles > 0)).any())",
    "    return 10**5000"), "CV304", "CV301", "CV306", "CV307")


add("subtasks-conditional-expression", X, replace(
    'SUBTASKS = ("has_key", "door_open", "at_goal")',
    'SUBTASKS = ("has_key", "door_open", "at_goal") if TILE == 8 else ("at_goal",)'), "CV205", "CV208")
add("subtasks-reassigned", X, inject('SUBTASKS = ("at_goal",)', at="end"), "CV205", "CV208")
add("subtask-name-rebound", X, inject("at_goal = has_key", at="end"),
    "CV205", "CV206", "CV208")

# ==================================================== reaching the properties stage

# Attacks only the properties stage can see: each would pass parse, policy and the restricted
# run on the suite's frames, then fail a property on a generated observation.  None is left:
# the last one kept a counter in an array inside a module-level tuple, which stayed writable
# until sandbox.guards froze constants all the way down; it is now an ordinary attack (CV305).
# The determinism layer (CV403) stays as defence in depth and is tested directly
# (tests/test_attacks.py::test_the_determinism_property_rejects_two_different_answers).
PROPERTY_ATTACKS: list[Attack] = []

add("call-counter-in-module-tuple", N, inject(
    "CALLS = (np.array((0,)),)", at="top").replace(
    '    """The key was picked up: no key-yellow pixels are left on the floor."""',
    '    """The key was picked up: no key-yellow pixels are left on the floor."""\n'
    '    count = CALLS[0]\n    count[0] = count[0] + 1\n    if count[0] % 2 == 0:\n        return False'),
    "CV305")

# --------------------------------------------------------------------------- checks

_ids = [a.id for a in ATTACKS]
assert len(_ids) == len(set(_ids)), "duplicate attack ids"
assert all(a.source != BASE_PROGRAM for a in ATTACKS), "an attack did not change the base program"
assert all(a.expect for a in ATTACKS)
