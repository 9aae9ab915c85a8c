"""CodeReward: each sub-task paid once per episode, in order; refused unless audited and unchanged.

The checks run in the reward worker (carverify/deploy); tests/test_deploy.py covers containment.
"""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from carverify.errors import UsageError
from carverify.reward import CodeReward, audited_report, sha256_of
from carverify.suite import load_suite

torch.set_num_threads(1)

SUITE = "minigrid-doorkey-5x5"
PROGRAMS = Path(__file__).resolve().parents[1] / "suites" / SUITE / "programs"
NAMES = ("has_key", "door_open", "at_goal")


@pytest.fixture(scope="module")
def suite():
    return load_suite(SUITE)


@pytest.fixture(scope="module")
def accepted(suite):
    """tile_probes.py and its real audit report (audited once, then read from the disk cache)."""
    source = (PROGRAMS / "tile_probes.py").read_text()
    report = audited_report(source, suite, path="tile_probes.py")
    assert report["verdict"] == "accepted"
    return source, report


def fake_report(source: str, verdict: str = "accepted", suite: str = SUITE) -> dict:
    # For payment-logic tests on programs the audit would reject; the wrapper reads only these fields.
    return {"verdict": verdict, "program": {"sha256": sha256_of(source)}, "suite": suite}


def expert_episode(env, suite, seed: int) -> list[tuple[float, dict]]:
    act = suite.expert()
    env.reset(seed=seed)
    steps = []
    while True:
        _, reward, terminated, truncated, info = env.step(int(act(env.unwrapped)))
        steps.append((reward, info))
        if terminated or truncated:
            return steps


def test_expert_pays_each_bonus_once_in_order_and_resets(suite, accepted):
    env = CodeReward(suite.make_env(), suite, *accepted)
    assert env.subtasks == NAMES
    for episode in range(2):  # the second run of the same seed pays everything again
        for seed in range(6):
            steps = expert_episode(env, suite, seed)
            paid = [name for _, info in steps for name in info["subtask_completed"]]
            assert paid == list(NAMES), (episode, seed)
            for reward, info in steps:
                assert reward == pytest.approx(info["env_reward"] + suite.bonus * len(info["subtask_completed"]))
            assert steps[-1][1]["subtasks"] == dict.fromkeys(NAMES, True)
            assert steps[-1][1]["env_reward"] > 0
            # Completion flags only ever switch on, one sub-task after another.
            flags = np.array([[info["subtasks"][n] for n in NAMES] for _, info in steps])
            assert (np.diff(flags.astype(int), axis=0) >= 0).all()
            assert (flags[:, :-1] >= flags[:, 1:]).all()
    _, info = env.reset(seed=0)
    assert info["subtasks"] == dict.fromkeys(NAMES, False) and info["subtask_completed"] == []


def test_reset_mid_episode_clears_payments(suite, accepted):
    env = CodeReward(suite.make_env(), suite, *accepted)
    act = suite.expert()
    env.reset(seed=3)
    while True:
        _, _, _, _, info = env.step(int(act(env.unwrapped)))
        if info["subtasks"]["has_key"]:
            break
    env.reset(seed=3)
    paid = [n for _, info in expert_episode(env, suite, 3) for n in info["subtask_completed"]]
    assert paid == list(NAMES)


def test_ordered_waits_for_the_previous_subtask_unordered_does_not(suite, accepted):
    # door_open listed first: ordered, has_key can only be paid once the door is open.
    source = accepted[0].replace('SUBTASKS = ("has_key", "door_open", "at_goal")',
                                 'SUBTASKS = ("door_open", "has_key", "at_goal")')
    assert source != accepted[0]
    steps_of = {}
    for ordered in (True, False):
        env = CodeReward(suite.make_env(), suite, source, fake_report(source), ordered=ordered)
        steps = expert_episode(env, suite, 0)
        steps_of[ordered] = {n: i for i, (_, info) in enumerate(steps) for n in info["subtask_completed"]}
    assert steps_of[True]["has_key"] == steps_of[True]["door_open"] < steps_of[True]["at_goal"]
    assert steps_of[False]["has_key"] < steps_of[False]["door_open"] < steps_of[False]["at_goal"]


def test_memo_is_exact_and_renders_less(suite, accepted):
    runs = {}
    for memo in (True, False):
        env = CodeReward(suite.make_env(), suite, *accepted, ordered=False, memo=memo)
        rng = np.random.default_rng(0)
        env.reset(seed=100)
        trace = []
        for _ in range(3000):
            _, reward, terminated, truncated, info = env.step(int(rng.integers(7)))
            trace.append((reward, tuple(info["subtask_completed"])))
            if terminated or truncated:
                env.reset(seed=int(rng.integers(1000)))
        runs[memo] = (trace, env.renders)
    assert runs[True][0] == runs[False][0]
    assert any(paid for _, paid in runs[True][0])  # random play does complete sub-tasks
    assert runs[True][1] < runs[False][1] / 2


def test_no_render_once_everything_is_paid(suite, accepted):
    env = CodeReward(suite.make_env(), suite, *accepted, memo=False)
    expert_episode(env, suite, 0)
    before = env.renders
    env.step(0)  # the episode is over for the agent; nothing is left to pay
    assert env.renders == before


@pytest.mark.parametrize("change, message", [
    (lambda s, r: (s, {**r, "verdict": "rejected"}),
     "refusing a program its audit did not accept (verdict 'rejected')"),
    (lambda s, r: (s.replace("230", "200"), r), "refusing a program that changed since its audit"),
    (lambda s, r: (s, {**r, "suite": "minigrid-doorkey-8x8"}),
     "refusing a program audited against suite 'minigrid-doorkey-8x8', not 'minigrid-doorkey-5x5'"),
    (lambda s, r: (s, {}), "refusing a program its audit did not accept (verdict None)"),
])
def test_refused(suite, accepted, change, message):
    source, report = change(*accepted)
    with pytest.raises(UsageError) as info:
        CodeReward(suite.make_env(), suite, source, report)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_rejected_reference_program_is_refused_with_its_real_report(suite):
    source = (PROGRAMS / "always_true.py").read_text()
    report = audited_report(source, suite, path="always_true.py")
    assert report["verdict"] == "rejected"
    with pytest.raises(UsageError, match="verdict 'rejected'"):
        CodeReward(suite.make_env(), suite, source, report)


def test_report_from_a_json_path(suite, accepted, tmp_path):
    import json

    path = tmp_path / "report.json"
    path.write_text(json.dumps(accepted[1]))
    CodeReward(suite.make_env(), suite, accepted[0], str(path))
    with pytest.raises(UsageError, match="cannot read audit report"):
        CodeReward(suite.make_env(), suite, accepted[0], str(tmp_path / "missing.json"))


def make_thunk(source: str, report: dict):
    # Only the source and the report are pickled to a SubprocVecEnv worker; it compiles its own checks.
    def thunk():
        from minigrid.wrappers import ImgObsWrapper

        return ImgObsWrapper(CodeReward(load_suite(SUITE).make_env(), SUITE, source, report))
    return thunk


def vec_trace(vec_cls, accepted, steps: int = 400):
    # spawn, not SB3's default forkserver: a forkserver started earlier in this process (by
    # another test, with CARVERIFY_SUITES pointing at its own suite folder) keeps that
    # environment, and its workers could not find the bundled suite.
    options = {"start_method": "spawn"} if vec_cls.__name__ == "SubprocVecEnv" else {}
    venv = vec_cls([make_thunk(*accepted) for _ in range(2)], **options)
    venv.seed(7)
    venv.reset()
    rng = np.random.default_rng(1)
    rewards, paid = [], []
    try:
        for _ in range(steps):
            _, reward, _, infos = venv.step(rng.integers(7, size=2))
            rewards.append(reward.copy())
            paid.extend(n for info in infos for n in info["subtask_completed"])
    finally:
        venv.close()
    return np.array(rewards), paid


@pytest.mark.slow
def test_dummy_and_subproc_vec_envs_agree(accepted):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    dummy_rewards, dummy_paid = vec_trace(DummyVecEnv, accepted)
    sub_rewards, sub_paid = vec_trace(SubprocVecEnv, accepted)
    assert dummy_paid  # random play completed something, so the comparison means something
    np.testing.assert_allclose(dummy_rewards, sub_rewards)
    assert dummy_paid == sub_paid


def test_wrapper_pickles_without_its_reward_worker(suite, accepted):
    from carverify.deploy.reward import clear_memo

    clear_memo()   # the process's memo knows these states from earlier tests: make this env call the worker
    env = CodeReward(suite.make_env(), suite, *accepted)
    expert_episode(env, suite, 0)  # reward worker started, memo filled
    assert env._guard is not None
    copy = pickle.loads(pickle.dumps(env))
    assert copy._guard is None   # a SubprocVecEnv process starts its own
    assert [n for _, info in expert_episode(copy, suite, 1) for n in info["subtask_completed"]] == list(NAMES)


ALWAYS_GOAL = '''import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    return obs[0, 0, 0] > 250 and obs[0, 0, 1] < 5


def door_open(obs):
    return obs[0, 0, 0] > 250 and obs[0, 0, 1] < 5


def at_goal(obs):
    return obs[0, 0, 0] >= 0
'''


@pytest.mark.parametrize("needs_success", [False, True])
def test_goal_needs_success_pays_the_goal_only_with_the_environments_success(suite, needs_success):
    """A goal check that holds where the task is not done (UnlockPickup: a box opened by toggle
    vanishes and draws like a carried one) is paid at once unless goal_needs_success holds it back
    to the step on which the environment reports success.  The program is authored to hold everywhere."""
    env = CodeReward(suite.make_env(), suite, ALWAYS_GOAL, fake_report(ALWAYS_GOAL), ordered=False,
                     goal_needs_success=needs_success, monitor="off")
    try:
        steps = expert_episode(env, suite, seed=0)
    finally:
        env.close()
    paid_at = [i for i, (_, info) in enumerate(steps) if "at_goal" in info["subtask_completed"]]
    assert len(steps) > 3 and steps[-1][1]["env_reward"] > 0      # the expert succeeds on its last step
    assert paid_at == ([len(steps) - 1] if needs_success else [0])
    assert [info["subtasks"]["at_goal"] for _, info in steps][-1] is True


def test_unlockpickups_train_settings_hold_the_goal_for_success_in_car_runs_only():
    from carverify.train import make_env, train_config

    pickup = load_suite("minigrid-unlockpickup")
    config = train_config(pickup)
    assert config["goal_needs_success"] is True and "goal_needs_success" not in train_config(load_suite(SUITE))
    source = (pickup.path / config["program"]).read_text()
    program = {"source": source, "report": fake_report(source, suite=pickup.name)}
    # a sparse run wraps the program with bonus 0 only to measure sub-task completion
    for reward, bonus, held in (("car", None, True), ("sparse", 0.0, False)):
        env = make_env(pickup, reward, program, bonus=bonus, settings=config)()
        try:
            wrapper = env
            while not isinstance(wrapper, CodeReward):
                wrapper = wrapper.env
            assert wrapper.goal_needs_success is held
        finally:
            env.close()


def test_a_quoted_goal_needs_success_is_a_one_line_error(tmp_path):
    import shutil

    from carverify.train import Args, make_plan

    folder = tmp_path / "minigrid-unlockpickup"
    shutil.copytree(load_suite("minigrid-unlockpickup").path, folder)
    toml = (folder / "suite.toml").read_text()
    (folder / "suite.toml").write_text(toml.replace("goal_needs_success = true", 'goal_needs_success = "false"'))
    with pytest.raises(UsageError, match=r"goal_needs_success must be true or false, got 'false'"):
        make_plan(Args(suite=str(folder), rewards=("car",), seeds=(0,), track=False, out=str(tmp_path / "out")))
