"""The authored transcripts (suites/*/transcripts/authored-v10.json): every rejected round's program
is really wrong and every accepted one right, by a truth that is not carverify's; then the replay
through carverify rejects each round with the codes a reader expects from its flaw.

The truth: each round's program is cut from the reply by its fence (here, not by carverify's
extractor), exec'd as plain Python (tests/plain_programs.py: no sandbox, no stage code) and run on
the suite's own frames, whose facts the oracle recorded from the simulator while the suite's
adapter stepped the real environment.  A flaw is shown by Python itself (an exception on a frame)
or by the frames where a check contradicts its fact.  The tabletop suites' first programs are
wrong mostly off the expert's path, so their truth also takes the suite adapter's coverage states
(blocks set directly in PyBullet, settled, labelled by the oracle): the environment, not a verdict.

If the replay fails after a change to prompts, audit messages or episodes, re-record with
`.venv/bin/python tools/author_transcripts.py` (it checks every suite ends accepted).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from carverify.episodes import perturbed_episodes
from carverify.generate import ReplayProvider, generate
from carverify.generate.transcripts import default_folder
from carverify.suite import REPO_ROOT, load_suite
from plain_programs import answers, disagreements, run_source, suite_episodes, trajectory_codes

# The program in an authored reply: its one ```python (or ~~~python) block.
FENCE = re.compile(r"^(?P<fence>```|~~~)python[ \t]*\n(?P<code>.*?)^(?P=fence)[ \t]*$", re.M | re.S)
# The trajectory codes a plain reading derives (plain_programs.trajectory_codes).
PLAIN_CODES = {"CV501", "CV502", "CV503", "CV504", "CV505", "CV506"}


@functools.cache
def transcript(name: str) -> tuple[dict, tuple[str, ...]]:
    """The transcript and each round's program, in order."""
    suite = load_suite(name)
    (path,) = (suite.path / "transcripts").glob("*.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    programs = []
    for exchange in data["exchanges"]:
        if exchange["step"] == "decompose":
            continue
        blocks = [m.group("code") for m in FENCE.finditer(exchange["response"]["text"])]
        assert len(blocks) == 1, f"{name} round {exchange['round']}: {len(blocks)} python blocks"
        programs.append(blocks[0])
    return data, tuple(programs)


@functools.cache
def episodes(name: str) -> tuple:
    """Expert, random and perturbed episodes (expert play turned random after each sub-task)."""
    suite, experts, randoms = suite_episodes(name)
    return suite, experts, randoms, perturbed_episodes(suite)


@functools.cache
def coverage_states(name: str) -> dict:
    """The states the suite's adapter offers for coverage (tabletop: settled states set directly in
    PyBullet, the same the audit's coverage stage draws), with the oracle's facts."""
    suite = load_suite(name)
    return suite.adapter.states_block(suite)


class Plain:
    """One round's program run as plain Python; its answers are kept, each frame is asked once."""

    def __init__(self, name: str, index: int):
        self.name = name
        self.ns = run_source(transcript(name)[1][index], f"{name}-round{index + 1}.py")
        self.subtasks = tuple(self.ns["SUBTASKS"])
        self.suite, *groups = episodes(name)
        self.groups = dict(zip(("expert", "random", "perturbed"), groups))
        self._said: dict = {}

    def said(self, check: str, group: str) -> tuple[np.ndarray, ...]:
        if (check, group) not in self._said:
            self._said[check, group] = answers(self.ns[check], self.groups[group])
        return self._said[check, group]

    def every(self, check: str) -> tuple[list, list]:
        """(episodes, answers) over expert, random and perturbed play."""
        return ([ep for g in self.groups.values() for ep in g],
                [a for g in self.groups for a in self.said(check, g)])

    def plain_codes(self, fact_of: dict) -> set[str]:
        return trajectory_codes(self.suite, self.groups["expert"], self.groups["random"], self.subtasks,
                                {k: self.said(k, "expert") for k in self.subtasks},
                                {k: self.said(k, "random") for k in self.subtasks}, fact_of)

    def on_states(self, check: str) -> tuple[np.ndarray, dict]:
        """Answers on the coverage states, and the states."""
        got = coverage_states(self.name)
        if (check, "states") not in self._said:
            self._said[check, "states"] = np.array([bool(self.ns[check](frame)) for frame in got["frames"]])
        return self._said[check, "states"], got


def _where(found: list, n: int = 5) -> str:
    return f"{len(found)} frame(s), first (policy, seed, frame): {found[:n]}"


# --- what shows a flaw ----------------------------------------------------------------------


def says(check: str, fact: str, value: bool, *, at_reset: bool = False, policy: str | None = None):
    """The check answers `value` on episode frames where the oracle's fact is the opposite."""
    def shows(p: Plain) -> str:
        found = [(ep.policy, ep.seed, int(t)) for ep, said in zip(*p.every(check))
                 if policy is None or ep.policy == policy
                 for t in np.flatnonzero((said == value) & (ep.facts[fact] != value)) if t == 0 or not at_reset]
        assert found, f"{check} never says {value} where {fact} is {not value}"
        return f"{check} says {value} where {fact} is {not value}{' at reset' if at_reset else ''}: {_where(found)}"
    return shows


def says_on_states(check: str, value: bool, within: str):
    """On settled coverage states the check answers `value` against its fact; `within`: a word of
    the states' descriptions (where the blocks were put) that the flaw predicts."""
    def shows(p: Plain) -> str:
        said, got = p.on_states(check)
        settled = ~got["unsettled"].get(check, np.zeros(len(said), bool))
        found = np.flatnonzero((said == value) & (got["facts"][check] != value) & settled)
        words = [got["descriptions"][i].decode() for i in found]
        assert any(within in w for w in words), f"{check}: {len(found)} wrong states, none '{within}': {words[:3]}"
        return f"{check} says {value} on {len(found)} settled states, e.g. state {found[0]}: {words[0]}"
    return shows


def raises(error: type[Exception], *, on_black_frame: bool = False):
    """Python raises `error` (another exception, a typo say, fails the test) on a suite frame, or
    on a black frame of the suite's shape (a frame the properties stage generates)."""
    def shows(p: Plain) -> str:
        if on_black_frame:
            black = np.zeros_like(p.groups["expert"][0].frames[0])
            with pytest.raises(error) as info:
                for k in p.subtasks:
                    p.ns[k](black)
            return f"{error.__name__} on a black frame: {info.value}"
        for ep in [ep for g in p.groups.values() for ep in g]:
            for t, frame in enumerate(ep.frames):
                for k in p.subtasks:
                    try:
                        p.ns[k](frame)
                    except error as exc:
                        return f"{k} raises {error.__name__} ({exc}) on {ep.policy} seed {ep.seed} frame {t}"
        pytest.fail(f"no frame raises {error.__name__}")
    return shows


def misordered(p: Plain) -> str:
    """Every check agrees with its own fact on every frame, but SUBTASKS lists them in another
    order than the one in which the facts first hold in expert play."""
    fact_of = FACT_OF[p.name]
    for k in p.subtasks:
        assert not disagreements(p.every(k)[1], p.every(k)[0], fact_of[k]), k
    for ep in p.groups["expert"]:
        firsts = [int(np.argmax(ep.facts[fact_of[k]])) for k in p.subtasks]
        if firsts != sorted(firsts):
            return f"expert seed {ep.seed}: {p.subtasks} first hold at frames {firsts}"
    pytest.fail("the facts first hold in SUBTASKS order in every expert episode")


@dataclass(frozen=True)
class Round:
    codes: frozenset[str]                         # what the audit reports (empty: accepted)
    why: str                                      # the flaw, as a reader finds it in the program
    shows: tuple[Callable[[Plain], str], ...] = ()   # plain evidence of it


def rejected(codes: set[str], why: str, *shows) -> Round:
    return Round(frozenset(codes), why, shows)


ACCEPTED = Round(frozenset(), "right")

# Each program's checks -> the oracle fact they stand for (by meaning, not by position).
FACT_OF = {
    "minigrid-doorkey-5x5": {"has_key": "has_key", "door_open": "door_open", "on_goal": "at_goal"},
    "minigrid-doorkey-6x6": {"key_collected": "has_key", "door_open": "door_open", "goal_reached": "at_goal"},
    "minigrid-doorkey-8x8": {"pick_up_key": "has_key", "open_door": "door_open", "reach_goal": "at_goal"},
    "minigrid-unlock": {"get_key": "has_key", "open_door": "door_open"},
    "minigrid-unlockpickup": {"holding_key": "has_key", "door_open": "door_open", "holding_box": "has_box"},
    "tabletop-block-in-bowl": {k: k for k in ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")},
    "tabletop-block-in-box": {k: k for k in ("block_near_box", "block_in_box")},
    "tabletop-separate-piles": {k: k for k in ("red_in_zone", "blue_in_zone", "piles_separated")},
}

ROUNDS = {
    "minigrid-doorkey-5x5": [
        rejected({"CV502", "CV506"},
                 "has_key looks for the key's exact (255, 255, 0); inside the lit view the key is (255, 255, 76), "
                 "so with the key in view at reset it sees no key and says it is held: true at reset (CV502), "
                 "precision far below 0.9 (CV506)",
                 says("has_key", "has_key", True, at_reset=True)),
        ACCEPTED],
    "minigrid-doorkey-6x6": [
        rejected({"CV503", "CV506", "CV509"},
                 "door_open listed before key_collected: each check is right, the order is not (CV503); "
                 "SUBTASKS are graded in order against has_key, door_open, at_goal, so door_open meets has_key "
                 "and key_collected meets door_open (CV506), and each agrees better with the other's fact (CV509)",
                 misordered),
        ACCEPTED],
    "minigrid-doorkey-8x8": [
        rejected({"CV301"},
                 "reach_goal takes ys[0] of the goal's exact green (0, 255, 0); with the goal in the lit view it is "
                 "(76, 255, 76), nothing matches, and indexing the empty array raises on a real frame (CV301)",
                 raises(IndexError)),
        rejected({"CV501", "CV505", "CV506"},
                 "the guard returns False instead of raising, but the exact green still misses the lit goal, and "
                 "the goal is always lit with the agent on it: reach_goal never fires in expert play (CV501), misses "
                 "the environment's success (CV505), recall 0 (CV506)",
                 says("reach_goal", "at_goal", False)),
        ACCEPTED],
    "minigrid-unlock": [
        rejected({"CV501", "CV502", "CV505", "CV506"},
                 "both checks look for purple (112, 39, 195) only; in episodes whose key and door have another colour "
                 "get_key holds from reset (CV502) and open_door, the goal, never fires (CV501, CV505); "
                 "precision and recall below 0.9 (CV506)",
                 says("get_key", "has_key", True, at_reset=True), says("open_door", "door_open", False)),
        ACCEPTED],
    "minigrid-unlockpickup": [
        rejected({"CV401"},
                 "holding_box takes columns[1] of the full-height wall columns; a frame without two of them (the "
                 "black frame the properties stage tries) raises IndexError (CV401); on real frames it is right",
                 raises(IndexError, on_black_frame=True)),
        ACCEPTED],
    "tabletop-block-in-bowl": [
        rejected({"CV801", "CV804"},
                 "INNER_RADIUS_PX 11 is half the bowl's outer width plus half a block, so a block resting against a "
                 "bowl's outside wall counts as in it; red_in_bowl is wrong on 3 random-play frames too, too few for "
                 "the episode checks' 0.9 precision, but the coverage states put blocks there often: wrong on "
                 "more than 1% of them (CV801), all_blocks_placed fires without success (CV804)",
                 says("red_in_bowl", "red_in_bowl", True, policy="random"),
                 says_on_states("red_in_bowl", True, "red outside"),
                 says_on_states("all_blocks_placed", True, "outside")),
        ACCEPTED],
    "tabletop-block-in-box": [
        rejected({"CV504"},
                 "block_in_box tests a 12-pixel circle around the box's centre, whose inside is 6.9 by 5.7 pixels: "
                 "a block beside the box, outside it, fires the goal without success in random play (CV504)",
                 says("block_in_box", "block_in_box", True, policy="random"),
                 says_on_states("block_in_box", True, "near")),
        ACCEPTED],
    "tabletop-separate-piles": [
        rejected({"CV502", "CV503", "CV504", "CV506"},
                 "REACH_PX 8 lets a block's pixels lie 8 pixels (7 cm) past its zone: blue_in_zone holds at one "
                 "expert reset (CV502), checks fire out of order (CV503), piles_separated fires without success "
                 "(CV504), precision below 0.9 (CV506)",
                 says("blue_in_zone", "blue_in_zone", True, at_reset=True),
                 says("piles_separated", "piles_separated", True)),
        ACCEPTED],
}
MINIGRID = sorted(n for n in ROUNDS if n.startswith("minigrid-"))
TABLETOP = sorted(n for n in ROUNDS if n.startswith("tabletop-"))

# Episode frames where no check can be right, by the suite's own account: fact -> (the oracle fact
# that marks them, why).
AMBIGUOUS = {
    "minigrid-unlockpickup": {
        "has_box": ("box_gone", "toggling the box replaces it by its contents (nothing), so it vanishes "
                                "exactly as a carried box is not drawn (suite.toml goal_tolerance_fact)"),
    },
}
# Settled coverage states where an accepted pixel program disagrees with the oracle, each with why.
# (state index in the adapter's states_block, check) -> reason; a stale entry fails the test too.
EXCUSED = {
    "tabletop-separate-piles": {
        (237, "blue_in_zone"):
            "a blue block turned 35 degrees, its centre 1.215 cm inside the zone's nearest edge (0.15 mm "
            "outside the 1.2 cm band the adapter leaves unsettled), shows 3 pixels past the zone's drawn edge "
            "where REACH_PX allows 2.7; the suite's reference program zone_extents.py misses it alike",
    },
}


def cases(long: bool) -> list:
    names = TABLETOP if long else MINIGRID
    marks = [pytest.mark.long] if long else []
    return [pytest.param(n, i, marks=marks, id=f"{n}-round{i + 1}") for n in names for i in range(len(ROUNDS[n]))]


def test_every_round_has_an_expectation():
    assert sorted(ROUNDS) == sorted(p.parent.parent.name for p in (REPO_ROOT / "suites").glob("*/transcripts/*.json"))
    for name, rounds in ROUNDS.items():
        data, programs = transcript(name)
        assert data["authored"] is True and "authored fixture standing in for model output" in data["note"]
        assert len(programs) == len(rounds), name
        assert rounds[-1] is ACCEPTED and all(r.codes and r.why and r.shows for r in rounds[:-1]), name


def _is_wrong(name: str, index: int) -> None:
    round_ = ROUNDS[name][index]
    compile(transcript(name)[1][index], f"round{index + 1}", "exec")   # Python's own parser first
    p = Plain(name, index)
    evidence = [shows(p) for shows in round_.shows]
    # The trajectory codes a plain reading derives match the hand-written ones, with SUBTASKS
    # graded in order against the suite's facts (DESIGN.md); a program that raises on a real
    # frame (CV301) has none to read.
    if "CV301" not in round_.codes:
        got = p.plain_codes(dict(zip(p.subtasks, p.suite.subtask_facts)))
        assert got == round_.codes & PLAIN_CODES, (got, evidence)
    print(f"{name} round {index + 1}: {round_.why}\n  " + "\n  ".join(evidence))


def _is_right(name: str, index: int) -> None:
    p = Plain(name, index)
    fact_of = FACT_OF[name]
    order = [fact_of[k] for k in p.subtasks]
    assert order == list(p.suite.subtask_facts), f"SUBTASKS stand for {order}, the suite's order is {p.suite.subtask_facts}"
    # Zero tolerance on every frame of every episode, but for frames the suite names as ones no
    # frame can settle; a failure names the frames.
    for k in p.subtasks:
        cover, why = AMBIGUOUS.get(name, {}).get(fact_of[k], (None, ""))
        wrong, excused = [], 0
        for ep, said in zip(*p.every(k)):
            differs = said != ep.facts[fact_of[k]]
            if cover:
                excused += int(np.count_nonzero(differs & ep.facts[cover]))
                differs &= ~ep.facts[cover]
            wrong += [(ep.policy, ep.seed, int(t)) for t in np.flatnonzero(differs)]
        assert not wrong, f"{k} disagrees with {fact_of[k]}: {_where(wrong)}"
        if excused:
            print(f"{name}: {k} disagrees on {excused} frame(s) where {cover} holds: {why}")
    assert p.plain_codes(fact_of) == set()
    # Total on frames no episode shows: a bool, no exception.
    rng = np.random.default_rng(0)
    shape = p.groups["expert"][0].frames[0].shape
    for frame in (np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8), rng.integers(0, 256, shape, np.uint8)):
        assert all(type(p.ns[k](frame)) is bool for k in p.subtasks)
    if name in TABLETOP:
        found = {}
        for k in p.subtasks:
            said, got = p.on_states(k)
            settled = ~got["unsettled"].get(k, np.zeros(len(said), bool))
            for i in np.flatnonzero((said != got["facts"][k]) & settled):
                found[(int(i), k)] = got["descriptions"][i].decode()
        assert set(found) == set(EXCUSED.get(name, {})), f"disagreements on settled coverage states: {found}"


@pytest.mark.parametrize("name,index", cases(long=False))
def test_minigrid_round_is_what_its_expectation_says(name, index):
    (_is_right if ROUNDS[name][index] is ACCEPTED else _is_wrong)(name, index)


@pytest.mark.parametrize("name,index", cases(long=True))
def test_tabletop_round_is_what_its_expectation_says(name, index):
    (_is_right if ROUNDS[name][index] is ACCEPTED else _is_wrong)(name, index)


# --- the replay through carverify -----------------------------------------------------------

# Compile is left out to keep this quick; test_cli_generate.py replays doorkey-8x8 with every
# stage, as the authoring tool did.
STAGES = ["parse", "policy", "restricted", "properties", "trajectories"]


def _replay(name: str, stages=None):
    suite = load_suite(name)
    gen = generate(suite, ReplayProvider(default_folder(suite), suite_name=name), model="any",
                   **({"stages": stages} if stages else {}))
    assert [r.accepted for r in gen.rounds] == [r is ACCEPTED for r in ROUNDS[name]]
    assert [{f.code for f in r.findings} for r in gen.rounds[:-1]] == [set(r.codes) for r in ROUNDS[name][:-1]]
    return gen


@pytest.mark.parametrize("name", MINIGRID)
def test_transcript_replays_to_an_accepted_program(name):
    gen = _replay(name, STAGES)
    # The feedback sent back is the audit's, finding by finding.
    for r in gen.rounds[:-1]:
        assert r.feedback and all(f.code in r.feedback for f in r.findings)


@pytest.mark.long
@pytest.mark.parametrize("name", TABLETOP)
def test_tabletop_transcript_replays_with_every_stage(name):
    _replay(name)
