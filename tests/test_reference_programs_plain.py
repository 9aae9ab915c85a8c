"""Reference programs run as plain Python: good ones agree with the oracle, bad ones fail as claimed."""
from __future__ import annotations

import functools
import time
import tomllib

import numpy as np
import pytest

from carverify.codes import CODES
from carverify.suite import REPO_ROOT, load_suite
from plain_programs import answers, disagreements, forgiven, run_file, suite_episodes, suite_perturbed
from plain_programs import trajectory_codes as plain_trajectory_codes
from sandbox import Limits

SUITES_DIR = REPO_ROOT / "suites"
NAMES = sorted(p.parent.parent.name for p in SUITES_DIR.glob("minigrid-*/programs/manifest.toml"))
# carverify.stages.properties.DEFAULT_CALL_BUDGET: seconds per interpreted call.
PROPERTY_CALL_SECONDS = 0.25


def manifest(name: str) -> list[dict]:
    path = SUITES_DIR / name / "programs" / "manifest.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))["program"]


def entries(verdict: str) -> list[tuple[str, str]]:
    return [(n, e["file"]) for n in NAMES for e in manifest(n) if e["verdict"] == verdict]


def claimed(name: str, file: str) -> set[str]:
    return set(next(e["codes"] for e in manifest(name) if e["file"] == file))


def load_program(name: str, file: str, **overrides) -> dict:
    # Our own reference files, so exec is fine here; the audit runs them sandboxed.
    return run_file(SUITES_DIR / name / "programs" / file, **overrides)


def zero(obs) -> int:
    return 0


@functools.cache
def labels(name: str, file: str, func: str, policy: str, fast: bool = False) -> tuple[np.ndarray, ...]:
    """The program's answer on every frame of every expert or random episode.

    fast: swap the slow program's busy loop (its one flaw) for a no-op.
    """
    suite, experts, randoms = suite_episodes(name)
    ns = load_program(name, file, **({"busy": zero} if fast else {}))
    episodes = {"expert": experts, "random": randoms}[policy] if policy != "perturbed" else suite_perturbed(name)
    return answers(ns[func], episodes)


def trajectory_codes(name: str, file: str, fast: bool = False) -> set[str]:
    """Plain-Python reading of the CV5xx rules, to confirm each claim independently."""
    suite, experts, randoms = suite_episodes(name)
    subtasks = load_program(name, file)["SUBTASKS"]
    return plain_trajectory_codes(suite, experts, randoms, subtasks,
                                  {k: labels(name, file, k, "expert", fast) for k in subtasks},
                                  {k: labels(name, file, k, "random", fast) for k in subtasks},
                                  perturbed=suite_perturbed(name),
                                  perturbed_vals={k: labels(name, file, k, "perturbed", fast) for k in subtasks})


# --- the manifests ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_manifest_covers_every_program(name):
    listed = [e["file"] for e in manifest(name)]
    on_disk = sorted(p.name for p in (SUITES_DIR / name / "programs").glob("*.py"))
    assert sorted(listed) == on_disk
    verdicts = {e["file"]: e["verdict"] for e in manifest(name)}
    assert sum(v == "accepted" for v in verdicts.values()) >= 2
    for e in manifest(name):
        assert e["verdict"] in ("accepted", "rejected")
        assert all(c in CODES for c in e["codes"]), e
        assert (e["verdict"] == "accepted") == (not e["codes"]), e


def test_all_five_suites_have_programs():
    assert {"minigrid-doorkey-5x5", "minigrid-doorkey-6x6", "minigrid-doorkey-8x8",
            "minigrid-unlock", "minigrid-unlockpickup"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_reference_programs_pass_the_static_policy(name):
    # Our own modules: if they break, this must fail, not skip.
    import sandbox.policy as policy_mod
    import sandbox.source as source_mod

    for path in sorted((SUITES_DIR / name / "programs").glob("*.py")):
        tree, issues = source_mod.parse_source(path.read_text(encoding="utf-8"))
        info, issues = policy_mod.check_policy(tree)
        assert not issues, (path.name, issues)


# --- correct programs ---------------------------------------------------------------


@pytest.mark.parametrize("name,file", entries("accepted"))
def test_good_program_matches_the_oracle(name, file):
    suite, experts, randoms = suite_episodes(name)
    subtasks = load_program(name, file)["SUBTASKS"]
    # The suite's own decomposition, or another one over its oracle's facts in their order
    # (UnlockPickup's key_down_probes adds "put the key down"), ending at the task's goal.
    assert [f for f in suite.facts if f in subtasks] == list(subtasks)
    assert set(suite.subtask_facts) <= set(subtasks) and subtasks[-1] == suite.subtask_facts[-1]
    for k in subtasks:
        for policy, eps in (("expert", experts), ("random", randoms), ("perturbed", suite_perturbed(name))):
            # Zero tolerance; a failure names every disagreeing (episode, frame).  Perturbed play
            # reaches states off the expert's path (a door closed again after unlocking).  The
            # goal is not held to frames under the suite's goal tolerance fact (a box toggled away).
            said = labels(name, file, k, policy)
            left_out = forgiven(suite, eps, k)
            if left_out is not None:
                said = tuple(np.where(out, ep.facts[k], v) for v, ep, out in zip(said, eps, left_out))
            wrong = disagreements(said, eps, k)
            assert not wrong, f"{file}:{k} disagrees with the oracle (policy, seed, frame): {wrong[:20]}"
    assert trajectory_codes(name, file) == set()


@pytest.mark.parametrize("name,file", entries("accepted"))
def test_good_program_is_total_and_pure(name, file):
    suite, experts, _ = suite_episodes(name)
    ns = load_program(name, file)
    rng = np.random.default_rng(0)
    height, width = experts[0].frames.shape[1:3]
    shapes = [(0, 0, 3), (1, 1, 3), (7, 9, 3), (8, 8, 3), (13, 40, 3), (23, 41, 4),
              (height, width, 3), (height + 8, width - 8, 3), (96, 96, 3)]
    for shape in shapes:
        for obs in (rng.integers(0, 256, shape, dtype=np.uint8), np.zeros(shape, np.uint8),
                    np.full(shape, 76, np.uint8)):
            before = obs.copy()
            for k in ns["SUBTASKS"]:
                assert type(ns[k](obs)) is bool, (k, shape)
            np.testing.assert_array_equal(obs, before)


def tile_frame(obj, highlight: bool, agent_dir) -> np.ndarray:
    from minigrid.core.grid import Grid

    frame = np.zeros((24, 24, 3), np.uint8)
    for ty in range(3):
        for tx in range(3):
            frame[8 * ty:8 * ty + 8, 8 * tx:8 * tx + 8] = Grid.render_tile(None, highlight=highlight, tile_size=8)
    frame[8:16, 8:16] = Grid.render_tile(obj, agent_dir=agent_dir, highlight=highlight, tile_size=8)
    return frame


@pytest.mark.parametrize("name,file", entries("accepted"))
def test_good_program_recognises_every_tile(name, file):
    # Every object the suite can draw, lit or not, with the agent on it where it can
    # stand: only the right tile may flip each check.
    from minigrid.core.constants import COLOR_NAMES
    from minigrid.core.world_object import Box, Door, Goal, Key, Wall

    colours = ("yellow",) if "doorkey" in name else COLOR_NAMES
    tiles = [("empty", None, True), ("wall", Wall(), False), ("goal", Goal(), True)]
    for c in colours:
        tiles += [("key", Key(c), False), ("box", Box(c), False), ("locked", Door(c, is_locked=True), False),
                  ("closed", Door(c), False), ("open", Door(c, is_open=True), True)]
    expect = {
        "has_key": lambda kind, d: kind != "key",
        "door_open": lambda kind, d: kind == "open",
        "at_goal": lambda kind, d: kind == "goal" and d is not None,
        "has_box": lambda kind, d: kind != "box",
        # A key on the floor and no locked door in sight (a lone tile shows no door).
        "key_down": lambda kind, d: kind == "key",
        # One tile holds the agent or a box, never both beside each other.
        "near_box": lambda kind, d: False,
    }
    ns = load_program(name, file)
    wrong = []
    for kind, obj, walkable in tiles:
        for highlight in (False, True):
            # The agent's own cell is always inside its view, hence always lit.
            for d in ([None, 0, 1, 2, 3] if walkable and highlight else [None]):
                frame = tile_frame(obj, highlight, d)
                for k in ns["SUBTASKS"]:
                    if ns[k](frame) != expect[k](kind, d):
                        wrong.append((k, kind, getattr(obj, "color", None), highlight, d))
    if "key_down" in ns["SUBTASKS"]:
        # A key beside a door: put down only once the door is unlocked, open or closed again.
        for c in colours:
            for door, down in ((Door(c, is_locked=True), False), (Door(c), True), (Door(c, is_open=True), True)):
                frame = np.concatenate([tile_frame(Key(c), False, None), tile_frame(door, False, None)], axis=1)
                if ns["key_down"](frame) != down:
                    wrong.append(("key_down", "key beside door", c, door.is_locked, door.is_open))
    if "near_box" in ns["SUBTASKS"]:
        # The agent (any direction) beside a box of each colour: next to it, not a tile apart.
        from minigrid.core.grid import Grid

        for c in colours:
            for d in range(4):
                agent, box, gap = (Grid.render_tile(None, agent_dir=d, highlight=True, tile_size=8),
                                   Grid.render_tile(Box(c), highlight=True, tile_size=8),
                                   Grid.render_tile(None, highlight=True, tile_size=8))
                for frame, beside in ((np.concatenate([agent, box], axis=1), True),
                                      (np.concatenate([box, agent], axis=0), True),
                                      (np.concatenate([agent, gap, box], axis=1), False)):
                    if ns["near_box"](frame) != beside:
                        wrong.append(("near_box", "agent and box", c, d, beside))
    assert not wrong


# --- known-bad programs ---------------------------------------------------------------


@pytest.mark.parametrize("name,file", entries("rejected"))
def test_bad_program_fails_as_claimed(name, file):
    codes = claimed(name, file)
    assert codes
    trajectory = {c for c in codes if c.startswith("CV5")}
    if trajectory:
        got = trajectory_codes(name, file)
        assert trajectory <= got, f"{file}: claims {sorted(trajectory)}, plain run gives {sorted(got)}"
    if "CV401" in codes:
        ns = load_program(name, file)
        _, experts, _ = suite_episodes(name)
        shape = experts[0].frames.shape[1:]
        unusual = [np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8),
                   np.zeros((8, 8, 3), np.uint8), np.zeros((shape[0] + 16, shape[1] + 16, 3), np.uint8)]
        for obs in unusual:
            # Its two documented flaws: [0] on the empty list of agent pixels (IndexError),
            # reshaping a frame of another size into the suite's tiles (ValueError).  A typo
            # (NameError, AttributeError, TypeError) would not pass.
            with pytest.raises((IndexError, ValueError)):
                for k in ns["SUBTASKS"]:
                    ns[k](obs)
        # On the suite's own frames it is right: its assumptions are its only flaw.
        assert trajectory_codes(name, file) == set()
    if "CV405" in codes:
        ns = load_program(name, file)
        goal = ns["SUBTASKS"][-1]
        _, experts, _ = suite_episodes(name)
        frames = experts[0].frames
        # Fast enough on real frames for the restricted stage to get through them all: CPU
        # time (a loaded machine does not inflate it), a fifth of the per-call limit to leave
        # room for RestrictedPython's overhead; plain Python measured 5-11 ms.
        start = time.thread_time()
        for frame in frames[:5]:
            ns[goal](frame)
        assert (time.thread_time() - start) / 5 < Limits().call_seconds / 5
        # ... but over the properties budget on a flat bright frame (timed on a crop,
        # scaled up: the cost is linear in the number of pixels).
        crop = np.full((8, 16, 3), 255, np.uint8)
        start = time.perf_counter()
        ns[goal](crop)
        estimate = (time.perf_counter() - start) / crop[:, :, 0].size * frames[0][:, :, 0].size
        assert estimate > PROPERTY_CALL_SECONDS, f"{file}: one {goal} call takes ~{estimate:.2f}s"
        # Without the busy loop it is right: slowness is its only flaw.
        assert trajectory_codes(name, file, fast=True) == set()


@pytest.mark.parametrize("name", NAMES)
def test_wrong_order_checks_are_right_but_misordered(name):
    suite = load_suite(name)
    ns = load_program(name, "wrong_order.py")
    assert set(ns["SUBTASKS"]) == set(suite.subtask_facts) and ns["SUBTASKS"] != suite.subtask_facts
    assert "CV506" not in trajectory_codes(name, "wrong_order.py")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_colour_is_true_at_reset_in_some_episode(name):
    _, experts, _ = suite_episodes(name)
    ns = load_program(name, "wrong_colour.py")
    at_reset = [any(ns[k](ep.frames[0]) for k in ns["SUBTASKS"]) for ep in experts]
    assert any(at_reset)
    if "unlock" in name:
        assert not all(at_reset)  # right on the episodes whose colour it guessed
