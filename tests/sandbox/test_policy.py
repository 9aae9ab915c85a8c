"""Static policy: messages are API, every violation is reported at once."""
import textwrap

import numpy as np
import pytest

from sandbox import check_policy, parse_source


def violations(src):
    tree, issues = parse_source(textwrap.dedent(src))
    if tree is None:
        return issues
    return check_policy(tree)[1]


HEADER = 'import numpy as np\nSUBTASKS = ("a",)\n'


def test_clean_program_has_no_violations():
    assert violations(HEADER + "def a(obs):\n    return bool(obs.sum() > 0)\n") == []


def test_all_violations_collected_at_once():
    src = HEADER + "import os\ndef a(obs):\n    x = obs.__class__\n    open('f')\n    return obs.tofile('x')\n"
    codes = [i.code for i in violations(src)]
    assert codes == ["CV204", "CV209", "CV202", "CV203"]


def test_messages_are_pinned():
    src = HEADER + "def a(obs):\n    return obs.tofile('x')\n"
    (issue,) = violations(src)
    assert (issue.code, issue.line, issue.col) == ("CV203", 4, 11)
    assert issue.message == "attribute 'tofile' is not allowed"
    assert issue.hint.startswith("allowed on arrays: T, all, any, argmax")


def test_numpy_attribute_message():
    (issue,) = violations(HEADER + "def a(obs):\n    np.save('x', obs)\n    return True\n")
    assert issue.message == "'np.save' is not allowed"


def test_nfkc_identifiers_are_checked_on_the_ast():
    # U+FF45 (fullwidth e) normalises to 'eval' in the parser.
    (issue,) = violations(HEADER + "def a(obs):\n    return \uff45val('1')\n")
    assert issue.code == "CV202" and "'eval'" in issue.message


def test_missing_subtask_function():
    (issue,) = violations('import numpy as np\nSUBTASKS = ("a", "b")\ndef a(obs):\n    return True\n')
    assert issue.code == "CV206" and issue.message == "SUBTASKS names 'b' but no function 'b' is defined"


def test_signature_checked():
    (issue,) = violations(HEADER + "def a(obs, other):\n    return True\n")
    assert issue.code == "CV207" and issue.subtask == "a"


@pytest.mark.parametrize("body,code", [
    ("x = lambda: 1", "CV201"),
    ("global G", "CV201"),
    ("raise ValueError()", "CV201"),
    ("y = f'{obs}'", "CV201"),
    ("y = np.zeros(3, out=obs)", "CV210"),
    ("y = obs.base", "CV203"),
    ("y = np.lib", "CV203"),
])
def test_rejected_constructs(body, code):
    codes = {i.code for i in violations(HEADER + f"def a(obs):\n    {body}\n    return True\n")}
    assert code in codes


def test_module_level_list_is_global_state():
    (issue,) = violations(HEADER + "L = [1, 2]\ndef a(obs):\n    return True\n")
    assert issue.code == "CV208" and "tuple" in issue.hint


def test_module_level_array_constant_allowed():
    src = HEADER + "C = np.array([255, 0, 0], dtype=np.uint8)\ndef a(obs):\n    return bool((obs == C).all())\n"
    assert violations(src) == []


def test_guard_name_parameter_rejected():
    issues = violations(HEADER + "def a(obs, _getattr_=None):\n    return True\n")
    assert any(i.code == "CV209" for i in issues)


def test_depth_cap():
    expr = "[" * 80 + "1" + "]" * 80
    issues = violations(HEADER + f"def a(obs):\n    return {expr} == 1\n")
    assert [i.code for i in issues] == ["CV103"]


def test_size_cap():
    (issue,) = violations(HEADER + "# " + "x" * 70000 + "\n")
    assert issue.code == "CV102"


def test_subtasks_list_literal_is_accepted():
    # Benign and common in model output; the child freezes it into a tuple after loading.
    assert violations('import numpy as np\nSUBTASKS = ["a"]\ndef a(obs):\n    return True\n') == []


def test_module_level_annotation_is_checked():
    issues = violations(HEADER + 'TILE: __import__("os").system("x") = 8\ndef a(obs):\n    return True\n')
    assert {i.code for i in issues} >= {"CV209"}


def test_lone_underscore_is_a_local_throwaway():
    # `h, w, _ = obs.shape` and `for _ in range(n)` are everyday Python; `_` names no guard.
    src = HEADER + ("def a(obs):\n    h, w, _ = obs.shape\n    n = 0\n    for _ in range(h):\n        n += 1\n"
                    "    pairs = [1 for _ in range(w)]\n    return n == h and _ == h - 1 and len(pairs) == w\n")
    assert violations(src) == []


@pytest.mark.parametrize("src,code", [
    (HEADER + "_ = 3\ndef a(obs):\n    return True\n", "CV209"),              # module level stays reserved
    (HEADER + "def a(obs, _=1):\n    return True\n", "CV209"),              # so do parameters
    (HEADER + "def _(obs):\n    return True\ndef a(obs):\n    return True\n", "CV209"),
    (HEADER + "def a(obs):\n    return _\n", "CV202"),                     # unbound: no builtin `_`
    (HEADER + "def a(obs):\n    __ = 1\n    return True\n", "CV209"),
    (HEADER + "def a(obs):\n    _x = 1\n    return True\n", "CV209"),
])
def test_other_underscore_names_stay_reserved(src, code):
    assert code in {i.code for i in violations(src)}


def test_module_level_dict_of_constants_is_allowed():
    src = HEADER + ('COLOURS = {"key": (255, 255, 0), "door": np.array([114, 114, 0]), "n": -3}\n'
                    'LEVELS = {0: 0.5, 1: 2.0}\ndef a(obs):\n    return COLOURS["n"] < LEVELS[0]\n')
    assert violations(src) == []


@pytest.mark.parametrize("value", ['{"a": []}', '{"a": {}}', '{"a": 1, "a": 2}', '{str(1): 0}', '{**OTHER}',
                                   '{k: 0 for k in "ab"}', '{(1, 2): 0}', '{"a": np.zeros(3)}'])
def test_module_level_dict_that_is_not_plain_constants_is_global_state(value):
    issues = violations(HEADER + f"OTHER = 1\nD = {value}\ndef a(obs):\n    return True\n")
    assert "CV208" in {i.code for i in issues}, value
    dict_issue = next(i for i in issues if i.code == "CV208")
    assert "literal string or number keys" in dict_issue.hint


def test_linalg_norm_is_the_one_linalg_function():
    assert violations(HEADER + "def a(obs):\n    return bool(np.linalg.norm(obs[0:3] - obs[6:9], axis=-1) < 0.05)\n") == []
    (issue,) = violations(HEADER + "def a(obs):\n    return bool(np.linalg.inv(obs).sum() > 0)\n")
    assert issue.code == "CV203" and issue.message == "'np.linalg.inv' is not allowed" and "norm" in issue.hint
    # Not as a value: an alias would hide which function is called.
    assert {i.code for i in violations(HEADER + "def a(obs):\n    la = np.linalg\n    return True\n")} == {"CV203"}


def test_the_linalg_facade_hands_out_norm_only():
    from sandbox.guards import FACADE, Forbidden, guarded_getattr
    linalg = guarded_getattr(FACADE, "linalg")
    assert guarded_getattr(linalg, "norm")(np.array([3.0, 4.0])) == 5.0
    for name in ("inv", "lapack_lite", "LinAlgError", "_umath_linalg"):
        with pytest.raises(Forbidden):
            guarded_getattr(linalg, name)


@pytest.mark.parametrize("body", [
    "int = float\n    return True",
    "tuple = list\n    return True",
    "x = 0\n    for len in range(3):\n        x += len\n    return x > 0",
    "return [max for max in range(3)] == []",
    "a, (b, round) = 1, (2, 3)\n    return a",
    "if (sum := obs.sum()) > 0:\n        return True\n    return False",
    "slice = 3\n    return True",
    "np = 3\n    return True",
    "abs += 1\n    return True",
])
def test_builtins_and_the_numpy_alias_cannot_be_rebound_in_a_function(body):
    (issue,) = [i for i in violations(HEADER + f"def a(obs):\n    {body}\n") if i.code == "CV212"]
    assert issue.message.startswith("cannot rebind '") and issue.hint.startswith("rename the local; `")


@pytest.mark.parametrize("src,name", [
    (HEADER + "def a(obs, int=1):\n    return True\n", "int"),
    (HEADER + "def a(obs, *, max=1):\n    return True\n", "max"),
    (HEADER + "def len(x):\n    return 0\ndef a(obs):\n    return True\n", "len"),
    (HEADER + "any = 3\ndef a(obs):\n    return True\n", "any"),
    ('import numpy as float\nSUBTASKS = ("a",)\ndef a(obs):\n    return True\n', "float"),
])
def test_builtins_cannot_be_rebound_by_parameters_functions_constants_or_imports(src, name):
    issues = [i for i in violations(src) if i.code == "CV212"]
    assert [i.message for i in issues] == [f"cannot rebind '{name}', a builtin"]
    assert issues[0].hint == f"rename the local; `{name}` keeps its builtin meaning"


def test_rebinding_numpy_names_the_module():
    (issue,) = violations(HEADER + "def a(obs):\n    np = obs\n    return True\n")
    assert (issue.code, issue.message, issue.hint) == (
        "CV212", "cannot rebind 'np', the numpy module", "rename the local; `np` keeps its numpy meaning")


def test_locals_may_shadow_module_constants_and_use_builtins():
    src = HEADER + "KEY = (1, 2)\ndef a(obs):\n    KEY = (3, 4)\n    n = max(KEY) + len(KEY)\n    return n > 0\n"
    assert violations(src) == []


@pytest.mark.parametrize("body,ok", [
    ("obs[0] ** 2", True), ("obs[0] ** -1", True), ("obs[0] ** 0.5", True), ("obs[0] ** P", True),
    ("obs[0] ** (P * 2 - 7)", True), ("float(obs[0]) ** obs[1]", True), ("2.0 ** obs[1]", True),
    ("pow(obs[0], 3)", True), ("pow(float(obs[0]), obs[1])", True),
    ("2 ** obs[1]", False), ("obs[0] ** obs[1]", False), ("pow(obs[0], obs[1])", False),
    ("obs[0] ** len(obs)", False), ("obs[0] ** LOCAL", False),
])
def test_power_needs_a_constant_exponent_or_a_float_base(body, ok):
    src = HEADER + f"P = 3\ndef a(obs):\n    LOCAL = 2\n    k = {body}\n    return k > 0\n"
    codes = [i.code for i in violations(src)]
    assert codes == ([] if ok else ["CV213"]), body


def test_augmented_power_is_checked_and_module_constants_are_not():
    (issue,) = violations(HEADER + "Y = 2 ** -1\ndef a(obs):\n    k = 2\n    k **= obs.shape[0]\n    return k > Y\n")
    assert issue.code == "CV213" and issue.message == "'**' with the exponent 'obs.shape[0]', which is not a constant"
    assert "2 ** -1 == 0.5" in issue.hint and "float(base) ** exponent" in issue.hint


@pytest.mark.parametrize("call,ok", [
    ("round(obs[0])", True), ("round(obs[0], 0)", True), ("round(obs[0], None)", True),
    ("round(obs[0], 2)", False), ("round(obs[0], -1)", False), ("round(obs[0], P)", False),
])
def test_round_with_digits_is_refused(call, ok):
    issues = violations(HEADER + f"P = 1\ndef a(obs):\n    return {call} > 0\n")
    assert [i.code for i in issues] == ([] if ok else ["CV214"])
    if not ok:
        assert "np.round(x, 2)" in issues[0].hint


def test_integers_outside_int64_are_refused_where_written():
    src = HEADER + "BIG = 9223372036854775808\ndef a(obs):\n    return obs.sum() < 99999999999999999999\n"
    issues = violations(src)
    assert [(i.code, i.line) for i in issues] == [("CV215", 3), ("CV215", 5)]
    assert violations(HEADER + "B = 9223372036854775807\ndef a(obs):\n    return obs.sum() < -B\n") == []


def test_slice_is_a_builtin_and_a_constant():
    src = HEADER + ("ROWS = slice(8, 16)\nPARTS = (slice(0, 8), slice(None, 8, 2))\n"
                    "def a(obs):\n    return bool(obs[ROWS, slice(0, 4)].any() or obs[PARTS].any())\n")
    assert violations(src) == []
    (issue,) = violations(HEADER + "S = slice(obs)\ndef a(obs):\n    return True\n")
    assert issue.code == "CV202"


def test_module_constants_unpacked_from_a_literal_tuple_are_constants():
    body = "def a(obs):\n    return bool(obs[EE_X] + obs[EE_Y] > 0)\n"
    assert violations(HEADER + "EE_X, EE_Y = 0, 1\n" + body) == []
    # Each pair is checked as a one-name assignment: a computed value, a reserved name, a
    # rebound builtin, a second binding; anything but names = literal tuple stays refused.
    bad = {"EE_X, EE_Y = 0, obs_rows()\n": "CV208", "_X, EE_Y = 0, 1\n": "CV209", "EE_X, int = 0, 1\n": "CV212",
           "EE_X, EE_Y = 0, 1\nEE_X = 3\n": "CV208", "EE_X, EE_Y = (0, 1, 2)[:2]\n": "CV208",
           "EE_X, EE_Y = 0, 1, 2\n": "CV208", "EE_X, *EE_Y = 0, 1, 2\n": "CV208", "EE_X = EE_Y = 0\n": "CV208"}
    for statement, code in bad.items():
        assert code in {i.code for i in violations(HEADER + statement + body)}, statement


@pytest.mark.parametrize("block", [
    "    try:\n        x = obs.tofile('x')\n    except ValueError:\n        open('f')\n    finally:\n        import os\n",
    "    with obs.tofile('x'):\n        open('f')\n        import os\n",
])
def test_forbidden_names_inside_a_rejected_block_are_reported_too(block):
    """A rejected try/with block is reported, and so is what it holds, in the same round."""
    src = HEADER + "def a(obs):\n" + block + "    return True\n"
    found = [(i.code, i.message) for i in violations(src)]
    assert found[0][0] == "CV201" and found[0][1].startswith(("try/except is not allowed", "with is not allowed"))
    assert ("CV203", "attribute 'tofile' is not allowed") in found
    assert any(code == "CV202" and "'open'" in message for code, message in found), found
    assert ("CV204", "imports are only allowed at module level (`import numpy as np`)") in found


def test_an_undefined_helper_is_named_as_undefined_not_as_forbidden():
    # The 1.5B model (prompts v7) called mask_of, the helper its prompt showed, without defining it.
    source = "import numpy as np\nSUBTASKS = ('a',)\n\ndef a(obs):\n    return mask_of(obs, (1, 2, 3), 30).sum() > 0\n"
    (issue,) = violations(source)
    assert issue.code == "CV202" and issue.message == "name 'mask_of' is not defined in the program"
    assert issue.hint.startswith("define mask_of in the program")
    (issue,) = violations(source.replace("mask_of(obs, (1, 2, 3), 30)", "open(obs)"))
    assert issue.message == "name 'open' is not allowed"
