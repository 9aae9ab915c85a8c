"""Feedback text: codes, numbers, quoted source, counterexamples in words, nothing machine-local."""
import pytest
from carverify.generate import feedback
from carverify.result import AuditReport, Finding, StageResult

SOURCE = '''import numpy as np

SUBTASKS = ("b", "a")


def a(obs):
    ys = np.nonzero(obs[:, :, 1] == 255)[0]
    return bool(ys[0] > 3)


def b(obs):
    return bool(obs.any())
'''


def report(*stages):
    return AuditReport("program.py", "0" * 64, "suite", list(stages))


def test_properties_finding_reads_as_a_counterexample_without_paths():
    f = Finding("CV401", "a is not total: a(obs) raised IndexError: index 0 is out of bounds (frame 0) — smallest "
                "failing observation: a frame filled with colour (0, 0, 0); saved to /tmp/x/ab-a-CV401-12.npy",
                8, None, "a", hint="reproduce: carverify run program.py --obs /tmp/x/ab-a-CV401-12.npy --fn a",
                data={"description": "a frame filled with colour (0, 0, 0)", "counterexample": "/tmp/x/ab.npy"})
    text = feedback.for_report(report(StageResult("parse", "passed"), StageResult("policy", "passed"),
                                      StageResult("restricted", "passed"), StageResult("properties", "failed", [f]),
                                      StageResult("trajectories", "skipped")), SOURCE)
    assert text.startswith("The audit REJECTED your program: stage properties failed "
                           "(parse, policy, restricted passed).\n\nFindings (1):\n\n")
    assert ("1. CV401 — raised an exception on a generated observation — in `a`, line 8\n"
            "   a is not total: a(obs) raised IndexError: index 0 is out of bounds\n"
            "   Smallest failing observation (shrunk by hypothesis): a frame filled with colour (0, 0, 0).\n"
            "   Offending code (function `a`, line 8 marked):\n"
            "     6 | def a(obs):\n"
            "     7 |     ys = np.nonzero(obs[:, :, 1] == 255)[0]\n"
            "   > 8 |     return bool(ys[0] > 3)") in text
    assert "/tmp/x" not in text and "reproduce" not in text and "skipped" not in text


def test_trajectory_findings_keep_numbers_and_quote_subtasks_for_order():
    f1 = Finding("CV503", "a: completed before b in 20/20 expert episodes; first: seed 0, a at frame 2, b at frame 8",
                 6, None, "a", "SUBTASKS lists sub-tasks in the order they are completed")
    f2 = Finding("CV506", "a vs oracle 'x': precision 0.40, recall 1.00", 6, None, "a", "3 frames ...")
    text = feedback.for_report(report(StageResult("trajectories", "failed", [f1, f2])), SOURCE)
    assert "20/20 expert episodes; first: seed 0, a at frame 2, b at frame 8" in text
    assert "   SUBTASKS (line 3):\n   > 3 | SUBTASKS = (\"b\", \"a\")" in text
    assert "2. CV506 — disagrees with the oracle" in text and "(code quoted above; see line 6)" in text


def test_restricted_frame_is_named():
    f = Finding("CV301", "a(obs) raised IndexError: index 0 is out of bounds (frame 20)", 8, None, "a",
                data={"frame": 20})
    text = feedback.for_report(report(StageResult("restricted", "failed", [f])), SOURCE,
                               name_frame=lambda i: f"expert episode seed 0, frame {i - 3}")
    assert "   That observation (frame 20) is expert episode seed 0, frame 17." in text


def test_many_findings_are_capped():
    findings = [Finding("CV201", f"construct {i} not allowed", i) for i in range(12)]
    text = feedback.for_report(report(StageResult("policy", "failed", findings)), SOURCE)
    assert "Findings (12):" in text and "8. CV201" in text and "9. CV201" not in text
    assert "... and 4 more: CV201 (-), CV201 (-), CV201 (-), CV201 (-)" in text


def test_no_program_feedback():
    f = Finding("CV701", "no program in the reply: the reply is empty", hint="the reply must contain ...")
    text = feedback.for_extraction([f])
    assert text.startswith("Your last reply gave the audit no program to run.\n\nFindings (1):\n\n"
                           "1. CV701 — no program in the reply\n   no program in the reply: the reply is empty")


def test_an_exception_a_small_model_cannot_read_is_explained():
    # The 0.5B model's first program (bench/results/generate, prompts v1): `if tile == colour:`.
    f = Finding("CV301", "first_step(obs) raised ValueError: The truth value of an array with more than one "
                "element is ambiguous. Use a.any() or a.all() (frame 0)", 8, None, "a", data={"frame": 0})
    text = feedback.for_report(report(StageResult("restricted", "failed", [f])), SOURCE)
    assert "   What that error means: `if a == b:` (or `and`/`or`/`not`) on arrays compares pixel by pixel" in text
    assert "`np.all(tile == colour)`" in text
    other = Finding("CV301", "a(obs) raised ZeroDivisionError: division by zero (frame 0)", 8, None, "a")
    assert "What that error means" not in feedback.for_report(report(StageResult("restricted", "failed", [other])),
                                                               SOURCE)


def test_the_same_mistake_in_several_checks_is_one_finding_naming_the_others():
    # The 0.5B model's round 2 (bench-generate, prompts v3): one body pasted into five checks.
    findings = [Finding("CV301", f"{name}(obs) raised IndexError: index 361 is out of bounds for axis 0 with size 40 "
                        "(frame 0)", line, None, name, data={"frame": 0})
                for name, line in (("a", 8), ("b", 12))]
    findings.append(Finding("CV301", "a(obs) raised ZeroDivisionError: division by zero (frame 0)", 8, None, "a"))
    text = feedback.for_report(report(StageResult("restricted", "failed", findings)), SOURCE)
    assert "Findings (3):" in text
    assert "1. CV301 — raised an exception — in `a`, line 8" in text
    assert "   The same mistake elsewhere: `b` (line 12); fix it there too." in text
    assert "in `b`, line 12" not in text and "def b(obs)" not in text   # b is named, not quoted again
    assert "2. CV301" in text and "ZeroDivisionError" in text and "3. CV301" not in text
    # Findings without a check (the policy's) group by line.
    policy = [Finding("CV201", "raise is not allowed; return False instead", n) for n in (8, 12)]
    text = feedback.for_report(report(StageResult("policy", "failed", policy)), SOURCE)
    assert "Findings (2):" in text and "The same mistake elsewhere: line 12; fix it there too." in text


def test_a_syntax_error_quotes_its_whole_function_with_a_caret():
    # The 1.5B model's round 1 (bench-generate, prompts v4): one `)` too many, four times over.
    broken = ("import numpy as np\n\nSUBTASKS = (\"a\",)\n\n\ndef a(obs):\n    return bool(np.any(\n"
              "        obs == (1, 2, 3), axis=2).any()))\n\n\ndef b(obs):\n    return True\n")
    f = Finding("CV101", "syntax error: unmatched ')'", 8, 40)
    text = feedback.for_report(report(StageResult("parse", "failed", [f])), broken)
    assert ("   Offending code (function `a`, line 8 marked):\n"
            "     6 | def a(obs):\n"
            "     7 |     return bool(np.any(\n"
            "   > 8 |         obs == (1, 2, 3), axis=2).any()))\n"
            "       | " + " " * 40 + "^ here") in text
    assert "def b" not in text


def test_an_array_used_as_a_truth_value_gets_the_exact_rewrite():
    """Told only what the error means, the 1.5B model sent `mask_of(...) and ...` back unchanged
    in all 5 rounds of a tabletop run (prompts v8): the feedback now names the operand and its rewrite."""
    from carverify.generate.feedback import truth_value_suggestion

    source = ("import numpy as np\n\n\ndef near(obs):\n    return (\n        mask_of(obs, (233, 99, 57), 40) and\n"
              "        obs[31:33, 30:33].sum() >= 6\n    )\n\n\ndef far(obs):\n"
              "    if obs[3, 4] == (1, 2, 3) or not np.any(obs):\n        return True\n    return False\n")
    message = "near(obs) raised ValueError: The truth value of an array with more than one element is ambiguous."
    text = truth_value_suggestion(source, Finding("CV301", message, 6, None, "near"))
    assert text == ("On line 6, this can be an array of booleans, not one truth value: "
                    "`mask_of(obs, (233, 99, 57), 40)` -> `mask_of(obs, (233, 99, 57), 40).any()` "
                    "(`.any()`: some pixel matches; `.all()`: every pixel does).")
    # a comparison is wrapped before it is reduced; a reduction (np.any) or a sum compared is left alone
    text = truth_value_suggestion(source, Finding("CV301", message.replace("near", "far"), 12, None, "far"))
    assert "`(obs[3, 4] == (1, 2, 3))` -> `(obs[3, 4] == (1, 2, 3)).any()`" in text and "np.any" not in text
    # another error, a line with nothing to reduce, or a program that does not parse: nothing
    assert truth_value_suggestion(source, Finding("CV301", "near(obs) raised IndexError: x", 6)) is None
    assert truth_value_suggestion(source, Finding("CV301", message, 7)) is None
    assert truth_value_suggestion("def (", Finding("CV301", message, 1)) is None


def test_bool_of_a_pixel_comparison_gets_the_rewrite_too():
    # prompts v9: `c = obs[32, 30]; return bool(c > 167)`, c a pixel of 3 channels, sent back 3 times
    from carverify.generate.feedback import truth_value_suggestion

    source = "def near(obs):\n    c = obs[32, 30]\n    return bool(c > 167) and obs.sum() > 3\n"
    message = "near(obs) raised ValueError: The truth value of an array with more than one element is ambiguous."
    text = truth_value_suggestion(source, Finding("CV301", message, 3, None, "near"))
    assert "`(c > 167)` -> `(c > 167).any()`" in text and "obs.sum()" not in text
    # with a likelier operand on the line, a comparison of names is not named
    source = "def near(obs):\n    c = 3\n    return c > 2 and mask_of(obs, (1, 2, 3), 4)\n"
    text = truth_value_suggestion(source, Finding("CV301", message, 3, None, "near"))
    assert "mask_of(obs, (1, 2, 3), 4).any()" in text and "c > 2" not in text


@pytest.mark.parametrize("line, shown, not_shown", [
    # plain Python values: `.any()` on a bool would raise AttributeError
    ("if isinstance(obs, dict) and mask_of(obs, R, 40):", "`mask_of(obs, R, 40)` ->", "isinstance(obs, dict).any"),
    ("if s['x'] > 0.5 and mask_of(s['img'], R, 40):", "`mask_of(s['img'], R, 40)` ->", "s['x'] > 0.5"),
    # a chained comparison is what raises: spelled element-wise before it is reduced
    ("if 0 < obs[:, :, 0] < 200:", "`((0 < obs[:, :, 0]) & (obs[:, :, 0] < 200)).any()`", "`(0 < obs"),
    # a reduction along an axis is still an array
    ("if (t == c).all(axis=2) and 1:", "`(t == c).all(axis=2).any()`", "np.any"),
])
def test_the_rewrite_is_never_wrong_python(line, shown, not_shown):
    """Hostile review: each of these got a rewrite that raised again, or none at all."""
    from carverify.generate.feedback import truth_value_suggestion

    source = f"def f(obs, s, t, c):\n    {line}\n        return True\n    return False\n"
    message = "f(obs) raised ValueError: The truth value of an array with more than one element is ambiguous."
    text = truth_value_suggestion(source, Finding("CV301", message, 2, None, "f"))
    assert shown in text and not_shown not in text
    rewrite = text.split("-> `")[1].split("`")[0]
    compile(rewrite, "rewrite", "eval")
