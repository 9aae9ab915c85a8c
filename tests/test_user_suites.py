"""Bring your own environment: two user suites in temporary folders, each audited, wrapped by
CodeReward and trained briefly (issue 13's acceptance).

1. A custom grid environment defined in the suite's own folder (adapter.py), with an expert,
   an oracle and a coverage hook that enumerates every state.
2. A rendered Gymnasium environment from another installed package (MiniGrid-Empty-5x5 through
   the generic adapter, seen as env.render()), with recorded demonstrations and no oracle.

Every file written below (environment, expert, oracle, programs, demonstrations) is authored
for this test; none is model output.
"""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from carverify.audit import audit_source
from carverify.cli import EXIT_ACCEPTED, main
from carverify.episodes import cache_key, expert_episodes
from carverify.errors import UsageError
from carverify.reward import CodeReward
from carverify.suite import load_suite

CORRIDOR_ADAPTER = '''
"""A corridor of LENGTH cells; the agent starts in cell 0, the goal is the last cell."""
import gymnasium
import numpy as np

from carverify.envs import EnvAdapter

LENGTH = 5
CELL = 8


class Corridor(gymnasium.Env):
    def __init__(self):
        self.action_space = gymnasium.spaces.Discrete(2)            # 0 left, 1 right
        self.observation_space = gymnasium.spaces.Box(0.0, LENGTH, (1,), np.float32)
        self.pos, self.steps = 0, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.steps = 0, 0
        return np.array([self.pos], np.float32), {}

    def step(self, action):
        self.pos = min(max(self.pos + (1 if int(action) == 1 else -1), 0), LENGTH - 1)
        self.steps += 1
        done = self.pos == LENGTH - 1
        return np.array([self.pos], np.float32), float(done), done, self.steps >= 20, {}

    def frame(self):
        img = np.zeros((CELL, CELL * LENGTH, 3), np.uint8)
        img[2:6, CELL * (LENGTH - 1) + 2:CELL * LENGTH - 2] = (0, 255, 0)
        img[2:6, CELL * self.pos + 2:CELL * self.pos + 6] = (255, 0, 0)
        return img


class CorridorAdapter(EnvAdapter):
    name = "corridor"
    exhaustive_coverage = True

    def make_env(self, suite, render_mode=None):
        return Corridor()

    def observe(self, suite, env):
        return env.unwrapped.frame()

    def state_key(self, env):
        return env.unwrapped.pos

    def coverage_blocks(self, suite):
        return [("all", 0, lambda: self.every_state(suite))]

    def every_state(self, suite):
        env, oracle = Corridor(), suite.oracle()
        frames, labels = [], []
        for pos in range(LENGTH):
            env.pos = pos
            frames.append(env.frame())
            labels.append(oracle(env))
        edges = [(p, p + 1) for p in range(LENGTH - 1)] + [(p + 1, p) for p in range(LENGTH - 1)]
        return {"frames": np.stack(frames), "facts": {k: np.array([f[k] for f in labels]) for k in suite.facts},
                "success": np.arange(LENGTH) == LENGTH - 1, "edges": np.array(edges, np.int32),
                "depth": np.arange(LENGTH, dtype=np.int32),
                "descriptions": np.array([f"agent in cell {p}".encode() for p in range(LENGTH)]), "left_out": {}}


ADAPTER = CorridorAdapter()
'''

CORRIDOR_TOML = '''
name = "corridor"
adapter = "adapter.py"
env_id = "Corridor-v0"
obs_kind = "rgb"
description = "A corridor of five 8-pixel cells: a red agent walks right to the green goal cell."
subtask_facts = ["halfway", "at_goal"]

[episodes]
expert_seeds = [0, 1]
random_seeds = [100, 101, 102, 103]
random_horizon = 12

[budget]
compiled_step_fraction = 1000.0   # the corridor steps in microseconds: any check costs more

[train]
algorithm = "ppo"
n_envs = 2
eval_episodes = 2
net_arch = [16]

[train.ppo]
n_steps = 64
batch_size = 64
n_epochs = 1
'''

CORRIDOR_PROGRAM = '''
import numpy as np

SUBTASKS = ("halfway", "at_goal")


def red_mask(obs):
    return (obs[:, :, 0] > 200) & (obs[:, :, 1] < 80)


def halfway(obs):
    return bool(red_mask(obs)[:, 16:].any())


def at_goal(obs):
    return bool(red_mask(obs)[:, 32:].any())
'''


def _write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


@pytest.fixture
def corridor(tmp_path):
    return _write(tmp_path / "mysuites" / "corridor", {
        "adapter.py": CORRIDOR_ADAPTER, "suite.toml": CORRIDOR_TOML,
        "expert.py": "def act(env):\n    return 1\n",
        "oracle.py": ("def facts(env):\n    pos = env.unwrapped.pos\n"
                      "    return {'halfway': pos >= 2, 'at_goal': pos == 4}\n"),
        "programs/walk.py": CORRIDOR_PROGRAM})


def _train(folder, tmp_path, capsys):
    code = main(["train", "--suite", str(folder), "--reward", "car", "--steps", "128", "--seeds", "0",
                 "--eval-every", "64", "--eval-episodes", "2", "--no-track", "--no-progress",
                 "--program", str(folder / "programs" / "walk.py"), "--out", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == EXIT_ACCEPTED, out
    curves = json.loads((tmp_path / "runs" / folder.name / "car" / "curves.json").read_text())
    assert curves["runs"][0]["steps"] >= 128 and len(curves["runs"][0]["curve"]) >= 2


@pytest.mark.long   # about 80 s: a full audit, CodeReward and a short train
def test_a_custom_env_in_the_suite_folder_audits_pays_and_trains(corridor, tmp_path, capsys):
    suite = load_suite(str(corridor))
    assert suite.kind == "adapter" and type(suite.adapter).__name__ == "CorridorAdapter"
    report = audit_source(CORRIDOR_PROGRAM, suite)
    assert report.verdict == "accepted", [f.message for f in report.findings]
    assert report.stage("coverage").metrics["states"] == 5.0   # the adapter's coverage hook ran

    env = CodeReward(suite.make_env(), suite, CORRIDOR_PROGRAM, report)
    try:
        env.reset(seed=0)
        rewards = [env.step(1)[1] for _ in range(4)]
    finally:
        env.close()
    assert rewards == [0.0, 1.0, 0.0, 2.0]   # halfway's bonus at cell 2; at_goal's bonus + env reward at 4
    _train(corridor, tmp_path, capsys)


def test_editing_the_env_module_invalidates_cached_episodes(corridor):
    suite = load_suite(str(corridor))
    before = cache_key(suite)
    assert [len(ep) for ep in expert_episodes(suite)] == [4, 4]
    adapter = corridor / "adapter.py"
    adapter.write_text(adapter.read_text().replace("LENGTH = 5", "LENGTH = 6"))
    suite = load_suite(str(corridor))
    assert cache_key(suite) != before
    assert [len(ep) for ep in expert_episodes(suite)] == [5, 5]   # simulated again with the edited env


def test_codereward_refuses_an_env_of_another_suite(corridor):
    import gymnasium

    suite = load_suite(str(corridor))
    report = {"verdict": "accepted", "suite": suite.name, "program": {"sha256": ""}}
    from carverify.reward import sha256_of

    report["program"]["sha256"] = sha256_of(CORRIDOR_PROGRAM)
    with pytest.raises(UsageError, match="the env is CartPole-v1, but suite corridor runs Corridor-v0"):
        CodeReward(gymnasium.make("CartPole-v1"), suite, CORRIDOR_PROGRAM, report)


# -- a rendered env from another package, recorded demonstrations, no oracle ------------------
EMPTY_TOML = '''
name = "empty-rendered"
adapter = "gymnasium"
env_id = "MiniGrid-Empty-5x5-v0"
env_package = "minigrid"
obs_kind = "rgb"
expert = "demonstrations.npz"
description = "MiniGrid's empty 5x5 room as env.render() draws it: walk to the green goal tile."
subtask_facts = ["at_goal"]

[episodes]
random_seeds = [100, 101, 102, 103]
random_horizon = 12
perturbed_seeds = [0, 1]

[budget]
compiled_step_fraction = 10.0

[train]
algorithm = "ppo"
n_envs = 2
eval_episodes = 2
net_arch = [16]
policy_keys = ["image"]

[train.ppo]
n_steps = 64
batch_size = 64
n_epochs = 1
'''

EMPTY_PROGRAM = '''
import numpy as np

SUBTASKS = ("at_goal",)


def at_goal(obs):
    # The goal tile is green (lighter in the agent's view); the agent drawn on it hides part of it.
    green = (obs[:, :, 1] > 200) & (obs[:, :, 0] < 120) & (obs[:, :, 2] < 120)
    n = int(np.count_nonzero(green))
    return n > 0 and n < 800
'''


def _record_demonstrations(path, seeds):
    """Walk the fixed route of MiniGrid-Empty-5x5 (forward, forward, right, forward, forward)."""
    import gymnasium
    import minigrid  # noqa: F401

    frames, actions, lengths, success = [], [], [], []
    env = gymnasium.make("MiniGrid-Empty-5x5-v0", render_mode="rgb_array")
    for seed in seeds:
        env.reset(seed=seed)
        frames.append(env.render())
        won = False
        for action in (2, 2, 1, 2, 2):
            _, reward, terminated, _, _ = env.step(action)
            frames.append(env.render())
            actions.append(action)
            won = terminated and reward > 0
        lengths.append(5)
        success.append(won)
    env.close()
    np.savez(path, frames=np.stack(frames), actions=np.array(actions), lengths=np.array(lengths),
             success=np.array(success), seeds=np.array(seeds))


@pytest.mark.long   # about 80 s: a full audit, CodeReward and a short train
def test_a_rendered_gymnasium_env_with_demonstrations_and_no_oracle(tmp_path, capsys):
    folder = _write(tmp_path / "empty-rendered", {"suite.toml": EMPTY_TOML, "programs/walk.py": EMPTY_PROGRAM})
    _record_demonstrations(folder / "demonstrations.npz", [0, 1, 2])
    suite = load_suite(str(folder))
    assert suite.kind == "gymnasium" and suite.demonstrations and not suite.has_oracle
    assert [ep.success for ep in expert_episodes(suite)] == [True, True, True]

    report = audit_source(EMPTY_PROGRAM, suite)
    assert report.verdict == "accepted", [f.message for f in report.findings]
    trajectories, coverage = report.stage("trajectories"), report.stage("coverage")
    assert trajectories.metrics["perturbed_episodes"] == 2.0
    assert "oracle precision/recall" in trajectories.skipped_checks
    assert coverage.status == "skipped" and "no oracle" in coverage.skipped_checks["every reachable state"]
    assert "skipped_checks" in report.to_dict()["stages"][-1]

    env = CodeReward(suite.make_env(), suite, EMPTY_PROGRAM, report)
    try:
        env.reset(seed=0)
        rewards = [env.step(a)[1] for a in (2, 2, 1, 2, 2)]
    finally:
        env.close()
    assert rewards[:4] == [0.0, 0.0, 0.0, 0.0] and rewards[4] > 1.0   # the bonus plus MiniGrid's own reward
    _train(folder, tmp_path, capsys)


def test_a_wrong_goal_is_still_rejected_without_an_oracle(tmp_path):
    folder = _write(tmp_path / "empty-rendered", {"suite.toml": EMPTY_TOML})
    _record_demonstrations(folder / "demonstrations.npz", [0, 1])
    wrong = EMPTY_PROGRAM.replace("return n > 0 and n < 800", "return n > 0")   # true on every frame
    report = audit_source(wrong, load_suite(str(folder)), stages=["parse", "policy", "restricted", "trajectories"])
    assert report.verdict == "rejected"
    assert "CV504" in {f.code for f in report.findings}   # the goal fires in random play without success


def test_new_suite_scaffolds_a_folder_that_loads(tmp_path, capsys):
    assert main(["new-suite", "cartpole", "--env-id", "CartPole-v1", "--obs", "state", "--dir", str(tmp_path)]) \
        == EXIT_ACCEPTED
    assert "wrote" in capsys.readouterr().out
    suite = load_suite(str(tmp_path / "cartpole"))
    assert (suite.kind, suite.env_id, suite.obs_kind, suite.has_oracle) == ("gymnasium", "CartPole-v1", "state", False)
    env = suite.make_env()
    try:
        env.reset(seed=0)
        assert suite.render(env).shape == (4,)   # the env's own observation vector
    finally:
        env.close()
    with pytest.raises(NotImplementedError, match="write the expert for CartPole-v1"):
        suite.expert()(env)
    assert main(["new-suite", "cartpole", "--env-id", "CartPole-v1", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
