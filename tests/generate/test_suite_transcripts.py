"""The recorded exchanges of every MiniGrid suite still replay: flawed first program, fixed by feedback.

If this fails after a change to prompts, audit messages or episodes, re-record with
`.venv/bin/python tools/author_transcripts.py` (it checks every suite ends accepted).
"""
import json

import pytest

from carverify.generate import ReplayProvider, generate
from carverify.generate.transcripts import default_folder
from carverify.suite import load_suite

# Suite -> finding codes of each rejected round, in order.  Compile is left out to keep this
# quick; test_cli_generate.py replays doorkey-8x8 with every stage, as the authoring tool did.
EXPECTED = {
    "minigrid-doorkey-5x5": [{"CV502", "CV506"}],
    "minigrid-doorkey-6x6": [{"CV503", "CV506", "CV509"}],   # door_open first: each check graded against its own fact
    "minigrid-doorkey-8x8": [{"CV301"}, {"CV501", "CV505", "CV506"}],
    "minigrid-unlock": [{"CV501", "CV502", "CV505", "CV506"}],
    "minigrid-unlockpickup": [{"CV401"}],
}
STAGES = ["parse", "policy", "restricted", "properties", "trajectories"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transcript_replays_to_an_accepted_program(name):
    suite = load_suite(name)
    (path,) = default_folder(suite).glob("*.json")
    data = json.loads(path.read_text())
    assert data["authored"] is True and "authored fixture standing in for model output" in data["note"]
    gen = generate(suite, ReplayProvider(default_folder(suite), suite_name=name), model="any", stages=STAGES)
    rejected, last = gen.rounds[:-1], gen.rounds[-1]
    assert [{f.code for f in r.findings} for r in rejected] == EXPECTED[name]
    assert last.accepted and all(r.feedback for r in rejected)
    # The feedback sent back is the audit's, finding by finding.
    for r in rejected:
        assert all(f.code in r.feedback for f in r.findings)


# The tabletop transcripts, replayed through every stage: block-in-bowl's first program (a loose
# 11-pixel threshold) passes every episode check and only the coverage states show it wrong;
# block-in-box's (a 12-pixel radius for a rectangular box) fires in one random episode;
# separate-piles' (8 pixels of slack past a zone's edge) fires at one expert reset.
TABLETOP = {"tabletop-block-in-bowl": [{"CV801", "CV804"}], "tabletop-block-in-box": [{"CV504"}],
            "tabletop-separate-piles": [{"CV502", "CV503", "CV504", "CV506"}]}


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(TABLETOP))
def test_tabletop_transcript_replays_with_every_stage(name):
    suite = load_suite(name)
    gen = generate(suite, ReplayProvider(default_folder(suite), suite_name=suite.name), model="any")
    assert [{f.code for f in r.findings} for r in gen.rounds[:-1]] == TABLETOP[name]
    assert gen.rounds[-1].accepted
