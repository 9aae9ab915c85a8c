"""Suites: suite.toml loading, rendering, scripted experts and oracles."""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import tomllib

import numpy as np
import pytest

from carverify.episodes import expert_episodes, expert_episodes_for, simulate
from carverify.errors import UnknownSuiteError, UsageError
from carverify.suite import REPO_ROOT, Suite, list_suites, load_suite, suites_root

SUITES = {
    "minigrid-doorkey-5x5": ("MiniGrid-DoorKey-5x5-v0", ("has_key", "door_open", "at_goal")),
    "minigrid-doorkey-6x6": ("MiniGrid-DoorKey-6x6-v0", ("has_key", "door_open", "at_goal")),
    "minigrid-doorkey-8x8": ("MiniGrid-DoorKey-8x8-v0", ("has_key", "door_open", "at_goal")),
    "minigrid-unlock": ("MiniGrid-Unlock-v0", ("has_key", "door_open")),
    "minigrid-unlockpickup": ("MiniGrid-UnlockPickup-v0", ("has_key", "door_open", "has_box")),
}


def test_list_suites_sorted_and_complete():
    names = [s.name for s in list_suites()]
    assert names == sorted(names)
    assert set(SUITES) <= set(names)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_suite_fields(name):
    suite = load_suite(name)
    env_id, facts = SUITES[name]
    assert isinstance(suite, Suite)
    assert suite.env_id == env_id
    assert suite.obs_kind == "rgb"
    assert suite.tile_size == 8
    assert suite.subtask_facts == facts
    assert suite.path == suites_root() / name
    assert len(suite.description) > 200 and "\n" not in suite.description
    assert suite.thresholds["min_expert_completion"] == 1.0
    assert 0.5 < suite.thresholds["min_precision"] <= 1.0
    assert 0.5 < suite.thresholds["min_recall"] <= 1.0
    assert suite.budget["compiled_step_fraction"] == 0.5
    assert suite.bonus == 1.0
    cfg = suite.config
    assert cfg["name"] == name
    assert set(cfg["episodes"]) >= {"expert_seeds", "random_seeds", "random_horizon"}
    hash(suite)  # usable as a cache key despite the dict field


@pytest.mark.parametrize("name", sorted(SUITES))
def test_description_names_what_the_frame_shows(name):
    text = load_suite(name).description.lower()
    for word in ("red triangle", "key", "door", "grey", "black", "lighter"):
        assert word in text, word
    if "doorkey" in name:
        assert "green" in text and "yellow" in text


def test_unknown_suite_lists_known_ones():
    with pytest.raises(UnknownSuiteError) as info:
        load_suite("nope")
    message = str(info.value)
    assert message.startswith("unknown suite 'nope' — known: ")
    known = message.split(" — known: ")[1].split(", ")
    assert known == sorted(known) and set(SUITES) <= set(known)
    assert isinstance(info.value, UsageError)


def test_carverify_suites_is_a_search_path_added_to_the_bundled_suites(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(REPO_ROOT / "suites" / "minigrid-doorkey-5x5", first / "minigrid-doorkey-5x5")
    shutil.copytree(REPO_ROOT / "suites" / "minigrid-doorkey-5x5", second / "minigrid-doorkey-5x5")
    shutil.copytree(REPO_ROOT / "suites" / "minigrid-unlock", second / "my-unlock")
    text = (second / "my-unlock" / "suite.toml").read_text().replace('name = "minigrid-unlock"', 'name = "my-unlock"')
    (second / "my-unlock" / "suite.toml").write_text(text)
    (first / "not-a-suite").mkdir()
    monkeypatch.setenv("CARVERIFY_SUITES", os.pathsep.join([str(first), str(second)]))
    assert suites_root() == first
    names = [s.name for s in list_suites()]
    # Added, not replacing: the bundled suites are still there, sorted with the user's.
    bundled = {p.name for p in (REPO_ROOT / "suites").iterdir() if (p / "suite.toml").is_file()}
    assert bundled | {"my-unlock"} == set(names) and names == sorted(names)
    # The first folder on the path wins a name, before the bundled suite of that name.
    assert load_suite("minigrid-doorkey-5x5").path == first / "minigrid-doorkey-5x5"
    assert load_suite("my-unlock").path == second / "my-unlock"
    assert load_suite("minigrid-unlock").path == REPO_ROOT / "suites" / "minigrid-unlock"


def test_a_suite_folder_loads_by_path(tmp_path):
    folder = tmp_path / "elsewhere" / "minigrid-doorkey-5x5"
    shutil.copytree(REPO_ROOT / "suites" / "minigrid-doorkey-5x5", folder)
    assert load_suite(str(folder)).path == folder
    assert load_suite(folder).path == folder
    with pytest.raises(UnknownSuiteError, match="must hold a suite.toml"):
        load_suite(str(tmp_path / "elsewhere"))


def test_bad_suite_toml_is_a_usage_error(tmp_path, monkeypatch):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "suite.toml").write_text('name = "broken"\nenv_id = "X"\n')
    monkeypatch.setenv("CARVERIFY_SUITES", str(tmp_path))
    with pytest.raises(UsageError, match="missing required field"):
        load_suite("broken")


def test_carverify_never_imports_suites_as_a_package():
    pattern = re.compile(r"^\s*(from|import)\s+suites\b", re.M)
    for path in (REPO_ROOT / "carverify").rglob("*.py"):
        assert not pattern.search(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("name", sorted(SUITES))
def test_render_matches_rgb_wrapper(name):
    from minigrid.wrappers import RGBImgObsWrapper

    suite = load_suite(name)
    wrapped = RGBImgObsWrapper(suite.make_env(), tile_size=8)
    obs, _ = wrapped.reset(seed=3)
    height, width = wrapped.unwrapped.height, wrapped.unwrapped.width
    frame = suite.render(wrapped)
    assert frame.shape == (8 * height, 8 * width, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame, obs["image"])
    for action in (1, 2, 0, 2, 3, 5):
        obs, *_ = wrapped.step(action)
        np.testing.assert_array_equal(suite.render(wrapped), obs["image"])


@pytest.mark.parametrize("name", sorted(SUITES))
def test_expert_solves_every_seed(name):
    suite = load_suite(name)
    episodes = expert_episodes(suite)
    seeds = suite.config["episodes"]["expert_seeds"]
    assert [ep.seed for ep in episodes] == seeds and len(seeds) >= 20
    max_steps = suite.make_env().unwrapped.max_steps
    failed = [ep.seed for ep in episodes if not ep.success]
    assert not failed, f"expert failed on seeds {failed}"
    assert all(len(ep) < max_steps for ep in episodes)


def test_doorkey_8x8_expert_solves_held_out_seeds():
    episodes = expert_episodes_for(load_suite("minigrid-doorkey-8x8"), range(100, 150))
    assert [ep.seed for ep in episodes if not ep.success] == []


@pytest.mark.parametrize("name", sorted(SUITES))
def test_oracle_facts_follow_the_task(name):
    # Each fact is false at reset, switches on in task order, and the last one (the
    # task goal) holds exactly on the frame where the env reports success.
    suite = load_suite(name)
    for ep in expert_episodes(suite):
        firsts = []
        for fact in suite.subtask_facts:
            labels = ep.facts[fact]
            assert labels.dtype == np.bool_ and labels.shape == (len(ep.frames),)
            assert not labels[0], (fact, ep.seed)
            assert labels.any(), (fact, ep.seed)
            firsts.append(int(labels.argmax()))
        assert firsts == sorted(firsts), (ep.seed, firsts)
        goal = ep.facts[suite.subtask_facts[-1]]
        assert goal.nonzero()[0].tolist() == [ep.success_step], ep.seed


def test_oracle_reads_the_simulator():
    suite = load_suite("minigrid-unlockpickup")
    env = suite.make_env()
    env.reset(seed=0)
    oracle = suite.oracle()
    # Seed 0 starts the agent beside the key, locked out of the box's room.
    assert oracle(env) == {"near_key": True, "has_key": False, "door_unlocked": False, "door_open": False,
                           "key_down": False, "near_box": False, "has_box": False, "box_gone": False}
    u = env.unwrapped
    box_at = next((x, y) for x in range(u.width) for y in range(u.height) if u.grid.get(x, y) is u.obj)
    u.carrying = u.obj
    assert oracle(env)["has_box"] is True and oracle(env)["box_gone"] is False
    u.carrying = None
    u.grid.set(*box_at, None)      # what toggling the box does: replaced by its contents, none
    assert oracle(env)["has_box"] is False and oracle(env)["box_gone"] is True


def test_unlockpickup_key_down_by_a_closed_door_is_told_apart_from_an_open_one():
    # Truth from the simulator: the expert opens the door, the agent closes it again, turns
    # and puts the key down.  The key is down (the door is unlocked, the key not carried) but
    # the door is not open; key_down_probes sees that, key_down_needs_open does not.
    from minigrid.core.world_object import Door

    from carverify.envs.minigrid_planner import find_one, front
    from plain_programs import run_file

    suite = load_suite("minigrid-unlockpickup")
    env = suite.make_env()
    env.reset(seed=0)
    oracle, expert = suite.oracle(), suite.expert()
    _, door = find_one(env, Door)
    while not door.is_open:
        env.step(expert(env))
    env.step(5)                                     # toggle: the door it faces closes
    assert not door.is_open and not door.is_locked
    while env.unwrapped.grid.get(*front(env)) is not None:
        env.step(0)                                 # turn left until the cell ahead is free
    env.step(4)                                     # drop the key
    facts = oracle(env)
    assert facts["key_down"] and facts["door_unlocked"] and not facts["door_open"] and not facts["has_key"]
    frame = env.unwrapped.get_frame(highlight=True, tile_size=suite.tile_size)
    programs = suite.path / "programs"
    assert run_file(programs / "key_down_probes.py")["key_down"](frame) is True
    assert run_file(programs / "key_down_needs_open.py")["key_down"](frame) is False


def test_unlockpickup_expert_drops_the_key():
    suite = load_suite("minigrid-unlockpickup")
    for ep in expert_episodes(suite, 5):
        assert 4 in ep.actions.tolist(), ep.seed  # DROP: one object at a time
        assert ep.facts["has_key"][ep.success_step - 1] == False  # noqa: E712


def test_expert_is_deterministic():
    suite = load_suite("minigrid-doorkey-6x6")
    a, b = simulate(suite, 7, "expert"), simulate(suite, 7, "expert")
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.frames, b.frames)


@pytest.mark.parametrize("name", sorted(SUITES))
def test_suite_toml_documents_its_choices(name):
    text = (REPO_ROOT / "suites" / name / "suite.toml").read_text(encoding="utf-8")
    config = tomllib.loads(text)
    assert config["bonus"] == 1.0 and config["obs_kind"] == "rgb" and config["tile_size"] == 8
    assert "uniform over all 7 MiniGrid actions" in text
    # Random play lasts at least as long as the longest expert episode.
    assert config["episodes"]["random_horizon"] >= max(len(ep) for ep in expert_episodes(load_suite(name)))
    assert not set(config["episodes"]["expert_seeds"]) & set(config["episodes"]["random_seeds"])


def test_suite_files_exist():
    for name in SUITES:
        folder = pathlib.Path(REPO_ROOT / "suites" / name)
        for f in ("suite.toml", "programs/manifest.toml"):
            assert (folder / f).is_file(), folder / f
        # The expert and oracle may be shared with a sibling suite (suite.toml names the file).
        suite = load_suite(name)
        assert suite.expert_path.is_file() and suite.oracle_path.is_file()


@pytest.mark.parametrize("name", [s.name for s in list_suites() if s.path.parent == suites_root()])
def test_every_bundled_suite_names_a_reference_program_that_exists(name):
    # panda-slide and four pixel suites had no [train] program, so training fell back to a
    # programs/tile_probes.py they lack (bench-rl could not run panda-slide); the manifest now says.
    from carverify.reward import reference_program

    suite = load_suite(name)
    source, path = reference_program(suite)
    assert "SUBTASKS" in source and pathlib.Path(path).parent.name == "programs"


def test_a_suite_with_no_program_to_train_with_says_why_in_one_line(tmp_path):
    from carverify.reward import reference_program

    folder = tmp_path / "minigrid-doorkey-5x5"
    shutil.copytree(load_suite("minigrid-doorkey-5x5").path, folder)
    toml = folder / "suite.toml"
    toml.write_text(re.sub(r"(?m)^program = .*$", "", toml.read_text()))
    (folder / "programs" / "tile_probes.py").unlink()   # the old default name, which would still be used
    manifest = folder / "programs" / "manifest.toml"
    cases = {"": 'and programs/manifest.toml lists no program with verdict = "accepted" and a file name',
             "program = 5\n": "and programs/manifest.toml has no [[program]] entries",
             "[[program]\n": "and programs/manifest.toml is not valid TOML (",
             '[[program]]\nfile = "gone.py"\nverdict = "accepted"\n':
                 "cannot read the reference program " + str(folder / "programs" / "gone.py")
                 + " (the first accepted program in programs/manifest.toml): No such file or directory"}
    for text, expected in cases.items():
        manifest.write_text(text)
        with pytest.raises(UsageError) as caught:
            reference_program(load_suite(str(folder)))
        assert expected in str(caught.value) and "\n" not in str(caught.value)
    manifest.unlink()
    with pytest.raises(UsageError, match="no \\[train\\] program in suite.toml, and there is no programs/manifest.toml"):
        reference_program(load_suite(str(folder)))
