"""The one guarded reward path on Panda: progress shaping through the reward worker, a contained fault, the monitor.

tests/corpus/deploy/panda_lifted.py is panda-push's reference program with a payload: its
`reached` check indexes past the state vector once the cube hangs in the air at one spot
above the table, which pushing never does, so the real audit accepts it.  The test puts the
cube there (a fault injected in a test-only way, in the real PyBullet simulation).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carverify import deploy
from carverify.envs import panda
from carverify.deploy.reward import summed_stats
from carverify.reward import audited_report
from carverify.reward import CodeReward
from carverify.suite import load_suite

PROGRAM = Path(__file__).resolve().parent / "corpus" / "deploy" / "panda_lifted.py"


@pytest.fixture(scope="module")
def accepted():
    suite = load_suite("panda-push")
    source = PROGRAM.read_text(encoding="utf-8")
    report = audited_report(source, suite, path=str(PROGRAM))
    assert report["verdict"] == "accepted", [f["code"] for s in report["stages"] for f in s["findings"]]
    return suite, source, report


@pytest.fixture(autouse=True)
def no_stop_left():
    deploy.begin_run()
    yield
    deploy.clear_stop()


def lift_cube(env) -> None:
    env.unwrapped.sim.set_base_pose("object", np.array([0.1, 0.1, 0.3]), np.array([0.0, 0.0, 0.0, 1.0]))


@pytest.mark.slow
def test_panda_shaping_a_contained_fault_and_the_goal_monitor(accepted, tmp_path):
    suite, source, report = accepted
    env = CodeReward(suite.make_env(), suite, source, report, bonus=1.0, progress_weight=10.0, gamma=0.95,
                              on_fault="zero", fault_dir=str(tmp_path), program_path=str(PROGRAM))
    try:
        _, info = env.reset(seed=0)
        assert info["subtasks"] == {"reached": False, "near_target": False, "at_target": False}
        before = 1.0 - panda.object_target_distance(env) / 0.45
        _, reward, _, _, info = env.step(np.zeros(3, np.float32))
        after = 1.0 - panda.object_target_distance(env) / 0.45
        assert "reward_fault" not in info
        assert reward == pytest.approx(info["env_reward"] + 10.0 * (0.95 * after - before), abs=1e-9)
        worker = env._guard.worker_pid

        lift_cube(env)
        _, reward, _, _, info = env.step(np.zeros(3, np.float32))
        fault = info["reward_fault"]
        assert (fault["kind"], fault["subtask"]) == ("exception", "reached")
        assert fault["message"] == "reached(obs) raised IndexError: index is out of bounds"
        assert reward == info["env_reward"]   # nothing paid, no shaping from a faulted call
        saved = np.load(fault["frame"])
        assert saved.shape == (panda.STATE_SIZE,) and 0.25 < saved[8] < 0.35
        assert env._guard.worker_pid != worker and deploy.stop_requested() is None

        # The expert's episode afterwards: paid in order, and the goal fires only with the env's success.
        act = suite.expert()
        env.reset(seed=3)
        paid, success = [], False
        for _ in range(50):
            _, _, terminated, truncated, info = env.step(np.asarray(act(env), np.float32))
            paid += info["subtask_completed"]
            success = success or bool(info.get("is_success"))
            if terminated or truncated:
                break
        stats = summed_stats([env.deploy_stats])
    finally:
        env.close()
    assert success and paid == ["reached", "near_target", "at_target"]
    assert stats["reward.faults"] == 1 and stats["monitor.goal_fired"] == 1
    assert stats["monitor.goal_without_success"] == 0 and stats["monitor.success_without_goal"] == 0
    assert stats["reward.memo_hits"] == 0   # continuous states: no memo, every step is a call


@pytest.mark.slow
def test_panda_fault_under_the_stop_policy(accepted, tmp_path):
    suite, source, report = accepted
    env = CodeReward(suite.make_env(), suite, source, report, bonus=1.0, progress_weight=0.0, gamma=0.95,
                              fault_dir=str(tmp_path), program_path=str(PROGRAM))
    try:
        env.reset(seed=0)
        lift_cube(env)
        _, _, _, _, info = env.step(np.zeros(3, np.float32))
    finally:
        env.close()
    kind, line = deploy.stop_requested()
    assert kind == "reward_fault" and line == info["reward_fault"]["line"]
    assert line.startswith(f"reward fault in {PROGRAM}: reached(obs) raised IndexError")
    assert f"(reproduce: carverify run {PROGRAM} --obs " in line and line.endswith(" --fn reached)")
