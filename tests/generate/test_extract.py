"""Finding the program in a reply: fences of every kind, prose around it, several blocks, none."""
import pytest

from carverify.generate.extract import code_blocks, extract_program

PROGRAM = 'import numpy as np\n\nSUBTASKS = ("a",)\n\n\ndef a(obs):\n    return bool(obs.any())\n'


@pytest.mark.parametrize("reply", [
    f"```python\n{PROGRAM}```",
    f"Here you go:\n\n```py\n{PROGRAM}```\n\nIt checks the frame.",
    f"```\n{PROGRAM}```",
    f"~~~python\n{PROGRAM}~~~\n",
    f"````python\n{PROGRAM}````",
    f"   ```Python  \n{PROGRAM}   ```\n",
    PROGRAM,
    f"Sure! The program:\n\n{PROGRAM}\nThat is all; each check is total.",
    f"```text\nnot code\n```\n\n```json\n{{\"a\": 1}}\n```\n\n```python\n{PROGRAM}```",
])
def test_the_program_is_found(reply):
    found = extract_program(reply)
    assert found.findings == []
    assert found.code.strip() == PROGRAM.strip()


def test_several_programs_pick_the_last_complete_one():
    old = PROGRAM.replace("obs.any()", "obs.all()")
    broken = 'SUBTASKS = ("a",)\ndef a(obs:\n'
    reply = f"Before:\n```python\n{old}```\nAfter:\n```python\n{PROGRAM}```\nNot this:\n```python\n{broken}```"
    found = extract_program(reply)
    assert found.code.strip() == PROGRAM.strip() and found.how == "block 2 of 3 (```python)"


def test_a_block_without_subtasks_is_not_the_program():
    reply = f"A helper:\n```python\ndef helper(x):\n    return x\n```\nThe program:\n```python\n{PROGRAM}```"
    assert extract_program(reply).code.strip() == PROGRAM.strip()


@pytest.mark.parametrize("reply,needle", [
    ("", "CV701 no program in the reply: the reply is empty"),
    ("I cannot help with that.", "CV701 no program in the reply: no code block and no Python program among 1 line"),
    ("```python\ndef helper(x):\n    return x\n```", "CV701 no program in the reply: 1 code block (python), none "
                                                     "defines SUBTASKS"),
    ('```json\n{"task": "t", "subtasks": []}\n```', "none defines SUBTASKS"),
    # The 0.5B model's reply (bench/results/generate, prompts v2, round 1), shortened:
    ('```python\nimport numpy as np\n\n# SUBTASKS = ("box_moved", "goal_walked")\ndef box_moved(obs):\n'
     '    return False\n```', 'none defines SUBTASKS: it is only in a comment (# SUBTASKS = ("box_moved", '
                            '"goal_walked")); write it as code, without the `#`'),
])
def test_no_program_is_finding_cv701(reply, needle):
    found = extract_program(reply)
    assert found.code is None
    assert needle in f"{found.findings[0].code} {found.findings[0].message}"


def test_truncated_reply_is_finding_cv702():
    cut = PROGRAM[: PROGRAM.index("return") + 15]  # "return bool(obs"
    found = extract_program(f"Here:\n```python\n{cut}", finish_reason="length")
    (finding,) = found.findings
    assert finding.code == "CV702" and found.truncated
    assert finding.message.startswith("the reply was cut off before the program ended: the model hit its output "
                                      "limit (finish_reason 'length'), and the code does not parse (line 7:")


def test_unclosed_fence_that_parses_is_used():
    found = extract_program(f"```python\n{PROGRAM}")
    assert found.findings == [] and found.truncated and found.code.strip() == PROGRAM.strip()


def test_unfenced_syntax_error_goes_to_the_audit_not_a_cv702():
    # Not cut off: the parse stage reports the syntax error with its line.
    found = extract_program('SUBTASKS = ("a",)\ndef a(obs:\n    return True\n')
    assert found.findings == [] and found.code.startswith("SUBTASKS")


def test_code_blocks_report_language_and_closure():
    blocks = code_blocks("x\n```py\n1\n```\n~~~\n2\n")
    assert [(b.lang, b.code, b.closed) for b in blocks] == [("py", "1\n", True), ("", "2\n", False)]
