"""Episodes: deterministic simulation, the on-disk cache, and suite_frames."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from carverify import episodes as ep_mod
from carverify.episodes import (Episode, cache_key, cache_root, expert_episodes, random_episodes,
                                random_horizon, simulate, suite_frames)
from carverify.suite import REPO_ROOT, list_suites, load_suite

NAMES = [s.name for s in list_suites() if s.env_id.startswith("MiniGrid-")]


@pytest.fixture
def private_suite(tmp_path, monkeypatch):
    """A copy of the 5x5 suite with its own cache, free to edit."""
    shutil.copytree(REPO_ROOT / "suites" / "minigrid-doorkey-5x5", tmp_path / "suites" / "minigrid-doorkey-5x5")
    monkeypatch.setenv("CARVERIFY_SUITES", str(tmp_path / "suites"))
    monkeypatch.setenv("CARVERIFY_CACHE", str(tmp_path / "cache"))
    return load_suite("minigrid-doorkey-5x5")


def count_simulations(monkeypatch) -> list:
    calls = []
    real = ep_mod.simulate

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(ep_mod, "simulate", counting)
    return calls


@pytest.mark.parametrize("name", NAMES)
def test_episode_arrays(name):
    suite = load_suite(name)
    env = suite.make_env()
    height, width = env.unwrapped.height, env.unwrapped.width
    for ep in expert_episodes(suite)[:3] + random_episodes(suite)[:3]:
        assert isinstance(ep, Episode)
        t = len(ep.actions)
        assert ep.frames.shape == (t + 1, 8 * height, 8 * width, 3) and ep.frames.dtype == np.uint8
        assert ep.actions.shape == (t,) and ep.actions.dtype == np.int64
        assert set(ep.facts) >= set(suite.facts) >= set(suite.subtask_facts)   # an oracle may add extras
        for labels in ep.facts.values():
            assert labels.shape == (t + 1,) and labels.dtype == np.bool_
        assert ep.success == (ep.success_step is not None)
        if ep.success:
            assert ep.success_step == t  # success terminates the episode
        env.reset(seed=ep.seed)
        np.testing.assert_array_equal(ep.frames[0], suite.render(env))


def test_frames_replay_from_actions():
    suite = load_suite("minigrid-unlockpickup")
    env = suite.make_env()
    for ep in (expert_episodes(suite)[0], random_episodes(suite)[0]):
        env.reset(seed=ep.seed)
        for t, action in enumerate(ep.actions, start=1):
            env.step(int(action))
            np.testing.assert_array_equal(ep.frames[t], suite.render(env))


def test_random_policy_is_seeded_and_uses_every_action():
    suite = load_suite("minigrid-doorkey-5x5")
    a = simulate(suite, 1003, "random", horizon=40)
    b = simulate(suite, 1003, "random", horizon=40)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.frames, b.frames)
    expected = np.random.default_rng(1003).integers(7, size=len(a.actions))
    np.testing.assert_array_equal(a.actions, expected)
    actions = np.concatenate([ep.actions for ep in random_episodes(suite)])
    assert set(actions.tolist()) == set(range(7))


@pytest.mark.parametrize("name", NAMES)
def test_random_episodes_respect_the_horizon(name):
    suite = load_suite(name)
    horizon = random_horizon(suite)
    assert horizon == suite.config["episodes"]["random_horizon"]
    eps = random_episodes(suite)
    assert [e.seed for e in eps] == suite.config["episodes"]["random_seeds"]
    for e in eps:
        assert len(e) == horizon or (e.success and len(e) < horizon)


def test_n_selects_the_first_seeds():
    suite = load_suite("minigrid-doorkey-5x5")
    assert [e.seed for e in expert_episodes(suite, 3)] == [0, 1, 2]
    assert [e.seed for e in random_episodes(suite, 2)] == [1000, 1001]
    assert len(random_episodes(suite, 2, horizon=5)[0]) <= 5


def test_second_call_reads_the_cache(private_suite, monkeypatch):
    calls = count_simulations(monkeypatch)
    first = expert_episodes(private_suite, 4)
    assert calls == [0, 1, 2, 3]
    files = sorted(p.name for p in (cache_root() / private_suite.name / cache_key(private_suite)).iterdir())
    assert files == ["expert-0.npz", "expert-1.npz", "expert-2.npz", "expert-3.npz"]
    second = expert_episodes(private_suite, 4)
    assert calls == [0, 1, 2, 3]  # nothing simulated again
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
        assert (a.seed, a.success, a.success_step) == (b.seed, b.success, b.success_step)
        for k in a.facts:
            np.testing.assert_array_equal(a.facts[k], b.facts[k])


def test_cache_lives_under_carverify_cache(private_suite, tmp_path):
    random_episodes(private_suite, 2, horizon=6)
    folder = tmp_path / "cache" / "episodes" / private_suite.name / cache_key(private_suite)
    assert sorted(p.name for p in folder.iterdir()) == ["random-1000-h6.npz", "random-1001-h6.npz"]
    assert not list(folder.glob("*.tmp"))  # atomic writes leave no temp files


def test_default_cache_root_is_the_user_cache_dir(monkeypatch, tmp_path):
    # Never inside the checkout or site-packages: platformdirs' per-user cache folder.
    monkeypatch.delenv("CARVERIFY_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "carverify" / "episodes"
    assert REPO_ROOT not in cache_root().parents


@pytest.mark.parametrize("edited", ["suite.toml", "expert.py", "oracle.py"])
def test_editing_the_suite_invalidates_the_cache(private_suite, monkeypatch, edited):
    calls = count_simulations(monkeypatch)
    expert_episodes(private_suite, 2)
    old_key = cache_key(private_suite)
    with open(private_suite.path / edited, "a", encoding="utf-8") as fh:
        fh.write("\n# edited\n")
    assert cache_key(private_suite) != old_key
    expert_episodes(private_suite, 2)
    assert calls == [0, 1, 0, 1]


def test_unreadable_cache_file_is_resimulated(private_suite, monkeypatch):
    calls = count_simulations(monkeypatch)
    expert_episodes(private_suite, 1)
    path = cache_root() / private_suite.name / cache_key(private_suite) / "expert-0.npz"
    path.write_bytes(b"truncated")
    assert expert_episodes(private_suite, 1)[0].success
    assert calls == [0, 0]


def test_horizon_defaults_to_the_longest_expert_episode(private_suite):
    text = (private_suite.path / "suite.toml").read_text(encoding="utf-8")
    (private_suite.path / "suite.toml").write_text(
        text.replace("random_horizon = 32", "# no horizon"), encoding="utf-8")
    suite = load_suite(private_suite.name)
    assert "random_horizon" not in suite.config["episodes"]
    longest = max(len(e) for e in expert_episodes(suite))
    assert random_horizon(suite) == longest
    assert all(len(e) <= longest for e in random_episodes(suite, 3))


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match="policy must be"):
        simulate(load_suite("minigrid-doorkey-5x5"), 0, "greedy")


@pytest.mark.parametrize("name", NAMES)
def test_suite_frames(name):
    suite = load_suite(name)
    frames = suite_frames(suite)
    assert frames.ndim == 4 and frames.dtype == np.uint8 and 1 <= len(frames) <= 256
    assert len({f.tobytes() for f in frames}) == len(frames)  # deduplicated
    np.testing.assert_array_equal(frames, suite_frames(suite))  # deterministic
    experts = expert_episodes(suite)
    np.testing.assert_array_equal(frames[0], experts[0].frames[0])
    keys = {f.tobytes() for f in frames}
    # Every success frame is in, and so are frames only random play reaches.
    assert all(e.frames[e.success_step].tobytes() in keys for e in experts)
    expert_keys = {f.tobytes() for e in experts for f in e.frames}
    assert keys - expert_keys


def test_suite_frames_cap():
    suite = load_suite("minigrid-doorkey-8x8")
    small = suite_frames(suite, max_frames=12)
    assert small.shape[0] == 12
    np.testing.assert_array_equal(small[:9], suite_frames(suite)[:9])
