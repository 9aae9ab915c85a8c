"""bench/generate.py's paired design and its table, with a scripted provider (no model)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate as bench  # noqa: E402

from carverify.generate import ScriptedProvider  # noqa: E402

ASK = [{"role": "user", "content": "write the program"}]


def test_the_same_first_request_with_the_same_seed_is_asked_once():
    inner = ScriptedProvider(["first", "second", "third"])
    inner.sampling = {"seed": 0, "temperature": 0.7}
    shared = bench.SharedAnswers(inner)
    assert shared.complete(ASK, model="m").text == "first"
    assert shared.complete(ASK, model="m").text == "first"          # the next mode's round 1
    assert shared.reused == 1 and len(inner.requests) == 1
    shared.sampling = {**shared.sampling, "seed": 1}                 # another generation
    assert inner.sampling["seed"] == 1
    assert shared.complete(ASK, model="m").text == "second"
    assert shared.complete(ASK + [{"role": "user", "content": "feedback"}], model="m").text == "third"
    assert shared.name == "scripted"                                  # everything else is the provider's


def test_the_table_counts_acceptance_per_mode():
    def row(feedback, seed, first, accepted, rounds):
        return {"model": "m", "prompt_version": "v4", "suite": "s", "feedback": feedback, "seed": seed,
                "accepted_first": first, "accepted": accepted, "rounds_used": rounds, "prompt_tokens": 900,
                "completion_tokens": 100, "wall_seconds": 60.0, "model_seconds": 50.0, "load_average": [1.0, 1.5],
                "rejections": [["CV301"]] * (rounds - accepted)}
    runs = [row("full", 0, False, True, 3), row("full", 1, False, False, 5), row("none", 0, False, False, 5),
            row("none", 1, False, False, 5)]
    text = bench.table(runs)
    full = next(line for line in text.splitlines() if " full " in line)
    none = next(line for line in text.splitlines() if " none " in line)
    assert full.split()[4:8] == ["2", "0/2", "1/2", "4.0"] and full.split()[8:10] == ["1/6", "1000"]
    assert none.split()[4:8] == ["2", "0/2", "0/2", "5.0"]
    assert "prompts v4, rejected rounds by finding code: CV301 17" in text


def test_later_rounds_past_the_sandbox_leave_out_the_shared_first_round():
    runs = [{"rejections": [["CV505"], ["CV101"], ["CV701"], ["CV501", "CV301"], ["CV801"]], "accepted": False},
            {"rejections": [["CV304"], ["CV505", "CV506"]], "accepted": True}]
    # run 1, rounds 2-5: syntax, no program, a restricted failure (its earliest stage), coverage -> 1 of 4;
    # run 2, rounds 2-3: trajectories, then accepted -> 2 of 2.  Round 1 (CV505, CV304) is not counted.
    assert bench.later_rounds_past_sandbox(runs) == (3, 6)
    assert bench.STAGE_ORDER[bench.stage_reached(["CV505", "CV301"])] == "restricted"
    assert bench.STAGE_ORDER[bench.stage_reached(["CV702"])] == "generation"
