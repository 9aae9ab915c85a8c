"""Partial replies are patches: functions redefined without SUBTASKS are applied to the last program."""
import re

from carverify.generate import ScriptedProvider, generate
from carverify.generate.patch import apply, partial_code, sections
from conftest import FAST

SUITE = "minigrid-doorkey-5x5"

PREVIOUS = '''import numpy as np

SUBTASKS = (
    "a",
    "b",
)

LIMIT = 3


def a(obs):
    x = obs.copy(
    return True

# b checks the goal
def b(obs):
    # a comment inside
    return False
'''


def test_replaced_in_place_and_new_ones_appended_even_if_the_previous_does_not_parse():
    reply = "Fixed `a`:\n```python\nimport numpy as np\n\ndef a(obs):\n    return obs.sum() > 0\n\n\n" \
            "def helper(x):\n    return x\n\nLIMIT = 4\n```\nThat should work."
    code = partial_code(reply)
    assert code is not None
    merged = apply(PREVIOUS, code)
    assert merged.replaced == ("a", "LIMIT") and merged.added == ("helper",)
    assert merged.describe(1) == "patch of round 1: replaced a, LIMIT; added helper"
    assert merged.code.count("import numpy") == 1 and "obs.copy(" not in merged.code
    assert "LIMIT = 4" in merged.code and "LIMIT = 3" not in merged.code
    # b, its comments and the multi-line SUBTASKS are untouched, in their places
    assert merged.code.index("SUBTASKS") < merged.code.index("def a") < merged.code.index("# b checks") \
        < merged.code.index("def b") < merged.code.index("def helper")
    assert "    # a comment inside" in merged.code
    compile(merged.code, "merged", "exec")


def test_what_is_not_a_patch():
    assert partial_code("no code at all") is None
    assert partial_code("```python\nSUBTASKS = ('a',)\ndef a(obs):\n    return True\n```") is None  # whole
    assert partial_code("```python\ndef a(obs):\n    return True\n") is None                          # cut off
    assert partial_code("```text\ndef a(obs)   -> unchanged\n```") is None                          # prose block
    assert partial_code("```python\nLIMIT = 4\n```") is None                                      # no function
    assert [name for name, _, _ in sections(PREVIOUS)] == [None, "SUBTASKS", "LIMIT", "a", "b"]


def test_the_loop_audits_and_keeps_the_merged_program(authored):
    decompose, _, good = authored(SUITE)
    program = re.search(r"```python\n(.*?)```", good, re.S).group(1)
    broken = program.replace("return not bool(yellow.any())", "return not bool(yellow.any()")
    fixed_function = program[program.index("def has_key"):program.index("def yellow_at")]
    replies = [decompose, f"```python\n{broken}```",
               f"Sorry, a missing parenthesis. Here is the corrected function:\n\n```python\n{fixed_function}```"]
    provider = ScriptedProvider(replies)
    gen = generate(SUITE, provider, model="m", stages=FAST)
    first, second = gen.rounds
    assert first.verdict == "rejected" and first.findings[0].code == "CV101"
    assert second.accepted and second.how == "patch of round 1: replaced has_key"
    assert second.code.strip() == program.strip() and gen.best is second


def test_feedback_on_a_rejected_patch_says_it_was_merged(authored):
    decompose, _, good = authored(SUITE)
    program = re.search(r"```python\n(.*?)```", good, re.S).group(1)
    broken = program.replace("return not bool(yellow.any())", "return not bool(yellow.any()")
    still_wrong = "```python\ndef has_key(obs):\n    import os\n    return True\n```"
    provider = ScriptedProvider([decompose, f"```python\n{broken}```", still_wrong, f"```python\n{program}```"])
    gen = generate(SUITE, provider, model="m", stages=FAST)
    assert [r.verdict for r in gen.rounds] == ["rejected", "rejected", "accepted"]
    assert gen.rounds[1].how == "patch of round 1: replaced has_key"
    assert gen.rounds[1].feedback.startswith("Your reply had no SUBTASKS, so it was applied to your previous "
                                             "program (patch of round 1: replaced has_key)")
    assert "import os" in provider.requests[-1][-1]["content"]   # the merged code is quoted


def test_a_reply_that_changes_nothing_is_told_so(authored):
    # As the 0.5B model did (bench/results/generate, prompts v1, round 2): it answered a CV301
    # with the very function that raised, unchanged.
    decompose, _, good = authored(SUITE)
    program = re.search(r"```python\n(.*?)```", good, re.S).group(1)
    same_function = "def has_key(obs):\n    import os\n    return True\n"
    broken = program.replace("def has_key(obs):", same_function + "\n\ndef has_key_old(obs):")
    provider = ScriptedProvider([decompose, f"```python\n{broken}```", f"Fixed:\n```python\n{same_function}```",
                                 f"```python\n{broken}\n\n```", f"```python\n{program}```"])
    gen = generate(SUITE, provider, model="m", stages=FAST, rounds=4)
    assert [r.verdict for r in gen.rounds] == ["rejected", "rejected", "rejected", "accepted"]
    first, patched, resent = gen.rounds[:3]
    assert first.feedback.startswith("The audit REJECTED")
    assert patched.how == "patch of round 1: replaced has_key"
    assert patched.feedback.startswith("Your reply changed nothing: the program is the same as in round 1, so it "
                                       "fails the same way.")
    assert resent.feedback.startswith("Your reply changed nothing: the program is the same as in round 2")


def test_the_same_reply_without_a_program_is_told_so_too(authored):
    # The 0.5B model (prompts v2, rounds 4 and 5) sent a reply without SUBTASKS twice, word for word.
    decompose, _, good = authored(SUITE)
    program = re.search(r"```python\n(.*?)```", good, re.S).group(1)
    no_subtasks = "```python\n# SUBTASKS = ('a',)\nimport numpy as np\n```"
    provider = ScriptedProvider([decompose, no_subtasks, "Here:\n" + no_subtasks, "Here:\n" + no_subtasks,
                                 f"```python\n{program}```"])
    gen = generate(SUITE, provider, model="m", stages=FAST, rounds=4)
    assert [r.verdict for r in gen.rounds] == ["no program"] * 3 + ["accepted"]
    assert gen.rounds[0].feedback.startswith("Your last reply gave the audit no program to run.")
    assert gen.rounds[1].feedback.startswith("Your last reply gave")       # worded differently: not a repeat
    assert gen.rounds[2].feedback.startswith("Your reply changed nothing: your reply is the same as in round 2")


def test_a_patch_that_does_not_parse_is_merged_and_gets_its_syntax_error_back(authored):
    # v4 sweep: 13 rejections were CV701 "no program in the reply", many of them a fixed
    # function with a syntax error of its own, which the feedback then never pointed at.
    decompose, _, good = authored(SUITE)
    program = re.search(r"```python\n(.*?)```", good, re.S).group(1)
    broken = program.replace("return not bool(yellow.any())", "return not bool(yellow.any()")
    fixed_but_broken = "```python\ndef has_key(obs)\n    return True\n```"
    # The last block is the answer: a later broken fix beats the earlier code it quotes back.
    assert partial_code("```python\ndef a(obs):\n    return True\n```\n" + fixed_but_broken) \
        == "def has_key(obs)\n    return True\n"
    provider = ScriptedProvider([decompose, f"```python\n{broken}```", "Fixed:\n" + fixed_but_broken,
                                 f"```python\n{program}```"])
    gen = generate(SUITE, provider, model="m", stages=FAST)
    first, second, third = gen.rounds
    assert second.how == "patch of round 1: replaced has_key" and "def has_key(obs)\n" in second.code
    assert [f.code for f in second.findings] == ["CV101"]
    assert "def has_key(obs)" in second.feedback and "^" in second.feedback   # the line itself, and where
    assert third.accepted


def test_a_broken_patch_keeps_its_stray_lines_in_the_function_they_break():
    """A dedented line in a fix that does not parse is part of that fix: dropped, the merged
    program lost the error (or showed it in the next function) instead of quoting it back."""
    fix = "def a(obs):\n    x = obs.sum(\nreturn x > 0\n"
    merged = apply(PREVIOUS, fix)
    assert merged.replaced == ("a",) and merged.added == ()
    body = merged.code[merged.code.index("def a"):merged.code.index("# b checks")]
    assert body.strip() == fix.strip()
    # the error is still there, on a line of `a`, not of `b`
    import ast
    try:
        ast.parse(merged.code)
        raise AssertionError("the merged program parses: the patch's syntax error was lost")
    except SyntaxError as error:
        lines = merged.code.splitlines()
        assert lines.index("def a(obs):") < error.lineno - 1 < lines.index("# b checks the goal")
    # a patch that parses still leaves its imports and prose to the previous candidate
    assert apply(PREVIOUS, "import os\n\ndef a(obs):\n    return True\n").code.count("import os") == 0


def test_the_answer_block_is_neither_a_quote_of_the_old_code_nor_a_usage_example():
    # hostile review: a fix followed by "your original was" (the old broken code) or by a usage
    # block defining test_helper lost the fix to the later block
    previous = "def helper(x):\n    return x +\n\n\ndef reward(obs):\n    return helper(obs) > 2\n"
    fix = "```python\ndef helper(x):\n    return x + 2\n```\n"
    quoted = "Your original was:\n```python\ndef helper(x):\n    return x +\n```\n"
    usage = "Try it:\n```python\ndef test_helper():\n    assert helper(1) == 3\n```\n"
    assert partial_code(fix + quoted, previous) == "def helper(x):\n    return x + 2\n"
    assert partial_code(fix + usage, previous) == "def helper(x):\n    return x + 2\n"
    assert apply(previous, partial_code(fix + usage, previous)).describe(1) == "patch of round 1: replaced helper"
    # a block of new functions only is still a patch when nothing redefines an old one
    assert partial_code(usage, previous) == "def test_helper():\n    assert helper(1) == 3\n"


def test_a_dedented_return_is_a_broken_patch_even_though_ast_parse_accepts_it():
    previous = "def helper(x):\n    return x + 1\n\n\ndef reward(obs):\n    return helper(obs) > 2\n"
    merged = apply(previous, "def helper(x):\n    y = x + 2\nreturn y\n")
    assert "    y = x + 2\nreturn y\n" in merged.code and merged.code.index("return y") < merged.code.index("def reward")
