"""The loop's own rules: stop at the first accepted program, keep the best, parse the decomposition."""
import ast

import numpy as np
import pytest

from carverify.errors import InternalError, UsageError
from carverify.generate import ScriptedProvider, generate
from carverify.generate.prompts import Frames, fill, parse_decomposition, program_message, skeleton
from carverify.suite import load_suite
from carverify.result import AuditReport, Finding, StageResult

DECOMPOSE = '{"task": "t", "subtasks": [{"name": "a", "description": "d"}]}'
PROGRAM = '```python\nimport numpy as np\n\nSUBTASKS = ("a",)\n\n\ndef a(obs):\n    return {}\n```'


def fake_audit(outcomes):
    """An audit stand-in: the n-th call returns the n-th list of stage statuses."""
    calls = []

    def audit(code, suite, *, path, stages, config):
        statuses = outcomes[len(calls)]
        calls.append(code)
        stage_names = ["parse", "policy", "restricted", "properties", "trajectories", "compile"]
        results = [StageResult(n, s, [Finding("CV999", f"{n} x")] * (s == "failed"))
                   for n, s in zip(stage_names, statuses)]
        return AuditReport(path, "0" * 64, suite.name, results)
    audit.calls = calls
    return audit


def run(replies, outcomes, rounds=3):
    audit = fake_audit(outcomes)
    gen = generate("minigrid-doorkey-5x5", ScriptedProvider([DECOMPOSE, *replies]), model="m", rounds=rounds,
                   audit=audit)
    return gen, audit


def test_stops_at_the_first_accepted_program():
    passed = ["passed"] * 6
    gen, audit = run([PROGRAM.format(1), PROGRAM.format(2), PROGRAM.format(3)],
                     [["passed", "failed"], passed, passed])
    assert [r.verdict for r in gen.rounds] == ["rejected", "accepted"] and len(audit.calls) == 2
    assert gen.best.number == 2 and gen.accepted


def test_best_is_the_furthest_stage_then_fewest_findings():
    gen, _ = run([PROGRAM.format(1), PROGRAM.format(2), "no code here"],
                 [["passed", "passed", "passed", "failed"], ["passed", "failed"]])
    assert [r.verdict for r in gen.rounds] == ["rejected", "rejected", "no program"]
    assert gen.best.number == 1 and not gen.accepted


def test_an_audit_error_stops_the_loop():
    with pytest.raises(InternalError, match="round 1: the audit itself failed"):
        run([PROGRAM.format(1)], [["passed", "error"]])


def test_rounds_must_be_positive():
    with pytest.raises(UsageError, match="rounds must be at least 1, got 0"):
        run([], [], rounds=0)


def test_refinement_continues_the_conversation():
    provider = ScriptedProvider([DECOMPOSE, "a", "b", "c"])
    generate("minigrid-doorkey-5x5", provider, model="m", rounds=3, audit=fake_audit([]))
    first, second, third = provider.requests[1:]
    assert len(second) == len(first) + 2 and len(third) == len(second) + 2
    assert second[:len(first)] == first and third[:len(second)] == second
    assert [m["content"] for m in third if m["role"] == "assistant"][1:] == ["a", "b"]
    assert "CV701" in third[-1]["content"] and third[-1]["role"] == "user"


@pytest.mark.parametrize("reply,names", [
    (DECOMPOSE, ["a"]),
    ('Sure:\n```json\n{"task": "t", "subtasks": ["x", "y"]}\n```\nDone.', ["x", "y"]),
    ('{"subtasks": [{"name": " has_key ", "description": 3}]}', ["has_key"]),
    ("no json at all", None),
    ('{"task": "t", "subtasks": []}', None),
])
def test_decomposition_parsing(reply, names):
    found = parse_decomposition(reply)
    assert (None if found is None else [s["name"] for s in found["subtasks"]]) == names


def test_template_placeholders_must_match():
    assert fill("a {{x}} b", x=1) == "a 1 b\n"
    with pytest.raises(ValueError, match="do not match"):
        fill("a {{x}} {{y}}", x=1)
    with pytest.raises(ValueError, match="do not match"):
        fill("a {{x}}", x=1, z=2)


@pytest.mark.parametrize("names,expected", [
    (["has_key", "door_open"], ("has_key", "door_open")),
    (["Pick up key", "2nd: open door!", "Pick up key"], ("pick_up_key", "open_door", "pick_up_key_2")),
    (["only_goal"], ("only_goal",)),
])
def test_the_program_prompt_gives_a_skeleton_whose_names_are_identifiers(names, expected):
    decomposition = {"task": "t", "subtasks": [{"name": n, "description": f"{n}\nshown"} for n in names]}
    code = skeleton(decomposition)
    tree = ast.parse(code)  # the stub itself is a program: SUBTASKS a real tuple, one function per name
    (subtasks,) = [node.value for node in tree.body if isinstance(node, ast.Assign)]
    assert ast.literal_eval(subtasks) == expected
    assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == list(expected)
    assert f"    # True once: {names[0]} shown\n" in code   # the description, on one line
    frame = np.zeros((40, 40, 3), np.uint8)
    suite = load_suite("minigrid-doorkey-5x5")
    text = program_message(suite, Frames(frame, frame), decomposition)["content"]
    assert code in text and all(f"`{name}`" in text for name in expected)


@pytest.mark.parametrize("suite_name", ["tabletop-block-in-bowl", "panda-push-pixels"])
def test_the_program_prompt_describes_the_suites_own_frame_not_minigrids(suite_name):
    # Measured: with one MiniGrid text for every suite, the tabletop requests said "8x8 pixels
    # per tile" and gave MiniGrid's colours for a PyBullet frame that has neither.
    suite = load_suite(suite_name)
    frames = Frames.of_suite(suite)
    text = program_message(suite, frames, None)["content"]
    assert "MiniGrid" not in text and "per tile" not in text and "Tile (row r" not in text
    assert f"shape ({frames.initial.shape[0]}, {frames.initial.shape[1]}, 3)" in text
    # the colours are read from this suite's first frame: its commonest one is named, and its share
    colours, counts = np.unique(frames.initial.reshape(-1, 3), axis=0, return_counts=True)
    commonest = tuple(int(v) for v in colours[counts.argmax()])
    assert f"- {commonest} (" in text and f"): {100 * counts.max() / counts.sum():.1f}% of the pixels" in text


def test_the_program_prompt_of_a_minigrid_suite_gives_its_tiles_and_colours():
    suite = load_suite("minigrid-doorkey-8x8")
    frames = Frames.of_suite(suite)
    text = program_message(suite, frames, None)["content"]
    assert "5 rows x" not in text and "8 rows x 8 columns" in text and "obs[8*r:8*r+8, 8*c:8*c+8]" in text
    assert "purple\n  (112, 39, 195)" in text or "purple (112, 39, 195)" in text.replace("\n  ", " ")


def test_the_pixel_skeletons_helper_passes_the_sandbox_and_numba():
    # The helper is ours, handed to every model on a pixel suite: it must never be why a program fails.
    from carverify.audit import audit_source
    from carverify.generate.prompts import skeleton_helpers

    suite = load_suite("tabletop-block-in-bowl")
    decomposition = {"task": "t", "subtasks": [{"name": "red_seen", "description": ""}]}
    code = skeleton(decomposition, skeleton_helpers(suite))
    assert code.index("SUBTASKS") < code.index("def mask_of(obs, rgb, tolerance):") < code.index("def red_seen")
    assert code.index("def mask_of") < code.index("def centroid_of(mask):") < code.index("def red_seen")
    code = code.replace("    return False", "    red = mask_of(obs, (215, 23, 23), 40)\n    row, col = centroid_of(red)\n"
                                           "    return red.sum() > 3 and row >= 0.0 and abs(col - 32.0) <= 40")
    report = audit_source(code, suite, stages=["parse", "policy", "restricted", "properties", "compile"])
    assert [f.code for f in report.findings] == [] and report.stage("compile").status == "passed"
    assert skeleton_helpers(load_suite("minigrid-doorkey-5x5")) == ""


def test_a_suites_own_observation_text_replaces_the_template(tmp_path):
    import shutil

    folder = tmp_path / "minigrid-doorkey-5x5"
    shutil.copytree(load_suite("minigrid-doorkey-5x5").path, folder)
    toml = (folder / "suite.toml").read_text()
    (folder / "suite.toml").write_text(toml.replace('obs_kind = "rgb"', 'obs_kind = "rgb"\nobservation = "- obs: my words"', 1))
    suite = load_suite(str(folder))
    frame = np.zeros((40, 40, 3), np.uint8)
    text = program_message(suite, Frames(frame, frame), None)["content"]
    assert "## The observation, exactly\n\n- obs: my words\n" in text and "MiniGrid colours" not in text
    (folder / "suite.toml").write_text(toml.replace('obs_kind = "rgb"', 'obs_kind = "rgb"\nobservation = 3', 1))
    with pytest.raises(UsageError, match="observation in suite.toml must be non-empty text, got 3"):
        program_message(load_suite(str(folder)), Frames(frame, frame), None)


def test_a_template_carries_over_from_the_latest_version_that_has_it():
    from carverify.generate.prompts import PROMPT_VERSION, template, template_path

    # system.md last changed in an earlier version; helpers_pixels first appeared in v8
    assert template_path("system").name.endswith(".md") and template_path("system") == template_path("system", "v99")
    assert template_path("helpers_pixels", "v7") is None and template_path("helpers_pixels", "v8").name == "helpers_pixels.v8.md"
    assert template_path("observation_pixels", "v7").name == "observation_pixels.v7.md"
    assert template("program", PROMPT_VERSION) == template_path("program", PROMPT_VERSION).read_text(encoding="utf-8")
    with pytest.raises(UsageError, match="no_such.v8.md is missing"):
        template("no_such", "v8")


def test_the_skeleton_without_a_decomposition_says_what_to_fill_in():
    code = skeleton(None)
    assert code.startswith("import numpy as np\n\nSUBTASKS = (\n")   # code, not a comment to keep as is
    assert ast.literal_eval(ast.parse(code).body[-1].value) == ()


class CountingProvider(ScriptedProvider):
    """Counts tokens as 4 characters each and refuses a request over its context, as llama.cpp's
    server refuses one over n_ctx (HTTP 400)."""

    def __init__(self, replies, context):
        super().__init__(replies)
        self.context_tokens, self.sampling = context, {"max_tokens": 200}

    def complete(self, messages, *, model):
        from dataclasses import replace

        from carverify.generate.loop import _chars
        from carverify.generate.providers import ProviderError

        tokens = _chars(messages) // 4
        if tokens + self.sampling["max_tokens"] > self.context_tokens:
            raise ProviderError(f"request of {tokens} tokens over the context of {self.context_tokens}")
        return replace(super().complete(messages, model=model), usage={"prompt_tokens": tokens})


def test_old_rounds_are_left_out_when_the_conversation_would_outgrow_the_context():
    # Replies of ~2,400 characters (600 tokens): the request grows by ~1,000 tokens a round.
    replies = [f"no code, attempt {i}: " + "x" * 2400 for i in range(5)]
    provider = CountingProvider([DECOMPOSE, *replies], context=4000)
    gen = generate("minigrid-doorkey-5x5", provider, model="m", rounds=5, audit=fake_audit([]))
    assert len(gen.rounds) == 5                          # no request was refused
    first = provider.requests[1]
    last = provider.requests[-1]
    assert last[:len(first)] == first                    # the task and the program request stay
    assert last[-2]["content"] == replies[3]             # the newest round stays
    assert last[-1]["content"].startswith("(Rounds 1-")
    assert "left out to fit the model's context of 4000 tokens; they were rejected: round 1 CV701" \
        in last[-1]["content"]
    assert replies[0] not in [m["content"] for m in last]
    # With room to spare nothing is left out: the conversation just grows.
    roomy = CountingProvider([DECOMPOSE, *replies], context=100_000)
    generate("minigrid-doorkey-5x5", roomy, model="m", rounds=5, audit=fake_audit([]))
    assert len(roomy.requests[-1]) == len(roomy.requests[1]) + 8
