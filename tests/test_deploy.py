"""Contained deployment: hostile programs the audit accepts cannot hang, crash or quietly cheat the reward path.

Every program here is in tests/corpus/deploy/ (authored).  Its payload fires only on a
purple disc, which DoorKey never draws: the test environment (ballworld.py) puts a purple
ball in the unreachable top-left corner on resets WITHOUT a seed, and every reset an
audit makes has a seed.  So the real audit accepts each program, and each payload fires
in the real environment as soon as training resets an env.  No mocks: real MiniGrid
envs, the real audit, real worker processes.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from corpus.deploy import ballworld

from carverify import deploy
from carverify.deploy import guard as guard_mod
from carverify.deploy.guard import default_deadline
from carverify.deploy.reward import CodeReward, clear_memo, summed_stats
from carverify.reward import audited_report

EVERY = [ballworld.CLEAN, *ballworld.HOSTILE, ballworld.BACKDOOR]
EXCEPTIONS = {"raise_index.py": "IndexError", "raise_zero.py": "ZeroDivisionError",
              "raise_assert.py": "AssertionError", "raise_key.py": "KeyError", "memory.py": "MemoryError"}
PAYLOAD_CHECK = {"hang.py": "door_open", "slow.py": "door_open", "raise_index.py": "has_key",
                 "raise_zero.py": "door_open", "raise_assert.py": "at_goal", "raise_key.py": "has_key",
                 "memory.py": "at_goal"}


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The DoorKey-5x5 suite on the ball environment (every unseeded reset draws the ball)."""
    root = tmp_path_factory.mktemp("suites")
    ballworld.suite_folder(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARVERIFY_SUITES", str(root))
        ballworld.register(1.0)
        from carverify.suite import load_suite

        yield load_suite(ballworld.SUITE)


@pytest.fixture(scope="module")
def reports(suite):
    """Each program's real audit report (audited once per session, then read from the disk cache)."""
    return {name: audited_report(ballworld.program(name)[0], suite, path=ballworld.program(name)[1])
            for name in EVERY}


@pytest.fixture(autouse=True)
def fresh_process_state():
    # No stop asked for by another test, and a cold memo: every test's states reach the worker.
    deploy.begin_run()
    clear_memo()
    yield
    deploy.clear_stop()


def wrapped(suite, reports, name, **options):
    source, path = ballworld.program(name)
    return CodeReward(suite.make_env(), suite, source, reports[name], program_path=path, **options)


def alive(pid: int | None) -> bool:
    """Whether a process exists and is not a zombie."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def expert_pays(env, suite, seed: int) -> list[str]:
    act = suite.expert()
    env.reset(seed=seed)   # seeded: no ball
    paid = []
    while True:
        _, _, terminated, truncated, info = env.step(int(act(env.unwrapped)))
        paid += info["subtask_completed"]
        if terminated or truncated:
            return paid


@pytest.mark.slow
@pytest.mark.parametrize("name", EVERY)
def test_every_program_passes_the_audit(reports, name):
    report = reports[name]
    findings = [f"{f['code']} {f['message']}" for s in report["stages"] for f in s["findings"]]
    assert report["verdict"] == "accepted", findings


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ballworld.HOSTILE))
def test_each_fault_is_caught_paid_nothing_and_the_worker_replaced(suite, reports, name, tmp_path):
    env = wrapped(suite, reports, name, on_fault="zero", fault_dir=str(tmp_path))
    try:
        env.reset(seed=0)
        env.compile()   # numba, outside the timings below
        assert expert_pays(env, suite, 0) == ["has_key", "door_open", "at_goal"]   # harmless without the ball
        guard = env._guard
        worker, zygote = guard.worker_pid, guard.zygote_pid
        assert alive(worker) and alive(zygote)
        env.reset()   # unseeded: the ball is drawn, the payload fires on the next call
        start = time.monotonic()
        _, reward, _, _, info = env.step(2)
        spent = time.monotonic() - start
        fault = info["reward_fault"]
        kind = ballworld.HOSTILE[name][1]
        assert (fault["kind"], fault["subtask"]) == (kind, PAYLOAD_CHECK[name]), fault
        if name in EXCEPTIONS:
            assert f"raised {EXCEPTIONS[name]}" in fault["message"]
        else:
            assert "CPU deadline" in fault["message"]
        # The hang and the multi-second loop cost one deadline plus one restart, not forever.
        assert spent < guard.wall + 10, spent
        assert reward == info["env_reward"] and info["subtask_completed"] == []
        assert not fault["stop"] and deploy.stop_requested() is None
        assert "\n" not in fault["line"] and fault["frame"] and Path(fault["frame"]).is_file()
        assert not alive(worker), "the faulting worker must be gone"
        # The same state again is a memo hit: counted, paid nothing, no second call.
        calls = env.counts["reward.worker_calls"]
        env.step(6)   # "done" changes nothing in MiniGrid: the same state
        assert env.counts["reward.worker_calls"] == calls and env.counts["reward.fault_steps"] == 2
        assert env.counts["reward.faults"] == 1
        # A fresh worker (forked from the same zygote, no recompile) serves the next layout.
        assert expert_pays(env, suite, 1) == ["has_key", "door_open", "at_goal"]
        assert guard.zygote_pid == zygote and alive(guard.worker_pid) and guard.worker_pid != worker
        last = guard.worker_pid
    finally:
        env.close()
    # Closed: nothing is left behind, neither the zygote nor any worker.
    assert not alive(zygote) and not alive(last) and not guard_mod.live_guards()


@pytest.mark.slow
def test_stop_policy_asks_training_to_stop_with_one_line_that_reproduces(suite, reports, tmp_path, capsys):
    from carverify.cli import EXIT_REJECTED, main

    source, path = ballworld.program("raise_index.py")
    env = wrapped(suite, reports, "raise_index.py", fault_dir=str(tmp_path))   # on_fault="stop" by default
    try:
        env.reset()
        _, _, _, _, info = env.step(2)
    finally:
        env.close()
    fault = info["reward_fault"]
    assert fault["stop"] and deploy.stop_requested() == ("reward_fault", fault["line"])
    line = fault["line"]
    frame_path = fault["frame"]
    assert line == (f"reward fault in {path}: has_key(obs) raised IndexError: index is out of bounds; frame saved "
                    f"to {frame_path} (reproduce: carverify run {path} --obs {frame_path} --fn has_key)")
    frame = np.load(frame_path)
    assert frame.shape == (40, 40, 3) and frame.dtype == np.uint8
    # The saved frame shows the trigger (a purple disc in the corner) and reproduces the fault in the sandbox.
    assert tuple(frame[4, 4]) in {(112, 39, 195), (154, 103, 213)}
    capsys.readouterr()
    assert main(["run", path, "--obs", frame_path, "--fn", "has_key"]) == EXIT_REJECTED
    assert "CV301" in capsys.readouterr().out


@pytest.mark.slow
def test_monitor_flags_a_goal_paid_without_success(suite, reports, tmp_path, capsys):
    env = wrapped(suite, reports, ballworld.BACKDOOR, ordered=False, fault_dir=str(tmp_path))
    try:
        assert env.monitor.assignment == {"has_key": "has_key", "door_open": "door_open", "at_goal": "at_goal"}
        assert expert_pays(env, suite, 2) == ["has_key", "door_open", "at_goal"]
        assert env.deploy_stats["monitor.goal_without_success"] == 0
        env.reset()
        _, reward, _, _, info = env.step(2)
        # The backdoor pays the goal (unordered) while the environment's reward is 0 ...
        assert info["subtask_completed"] == ["at_goal"] and info["env_reward"] == 0 and reward == 1.0
        kinds = {e["kind"] for e in info["monitor"]}
        # ... and the monitor says so twice: the goal without success, and at_goal against its oracle fact.
        assert kinds == {"goal_without_success", "oracle"}
        first = next(e for e in info["monitor"] if e["kind"] == "goal_without_success")
        assert first["frame"] and Path(first["frame"]).is_file() and not first["stop"]
        assert "carverify: warning: monitor:" in capsys.readouterr().err
        stats = env.deploy_stats
        assert stats["monitor.goal_without_success"] == 1 and stats["monitor.oracle_disagreements.at_goal"] >= 1
        assert deploy.stop_requested() is None   # warn: counted, training goes on
    finally:
        env.close()
    stopping = wrapped(suite, reports, ballworld.BACKDOOR, monitor="stop", fault_dir=str(tmp_path))
    try:
        stopping.reset()
        stopping.step(2)
    finally:
        stopping.close()
    kind, line = deploy.stop_requested()
    assert kind == "monitor" and line.startswith(f"monitor: {ballworld.program(ballworld.BACKDOOR)[1]}: ")


@pytest.mark.slow
def test_the_clean_program_on_the_same_states_raises_nothing(suite, reports):
    env = wrapped(suite, reports, ballworld.CLEAN)
    rng = np.random.default_rng(0)
    try:
        env.reset()
        for _ in range(600):
            _, _, terminated, truncated, info = env.step(int(rng.integers(7)))
            assert "reward_fault" not in info
            if terminated or truncated:
                env.reset()
        stats = summed_stats([env.deploy_stats])
    finally:
        env.close()
    assert stats["reward.faults"] == 0 and stats["monitor.goal_without_success"] == 0
    assert stats["reward.step_calls"] < stats["reward.steps"] / 2   # the memo answers most steps


@pytest.mark.slow
def test_worker_runs_with_the_sandbox_limits_and_a_read_only_frame(suite, reports):
    env = wrapped(suite, reports, ballworld.CLEAN)
    try:
        env.reset(seed=0)
        env.compile()
        guard = env._guard
        env.step(2)
        pid = guard.worker_pid
        limits = Path(f"/proc/{pid}/limits").read_text()
        assert _limit(limits, "Max file size") == "0" and _limit(limits, "Max processes") == "0"
        assert _limit(limits, "Max core file size") == "0"
        mapped = int(Path(f"/proc/{pid}/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        address_space = int(_limit(limits, "Max address space"))
        assert mapped < address_space <= mapped + guard_mod.MEMORY_BYTES
        if os.geteuid() == 0:
            assert Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0] == "65534"
        # The frame is mapped read-only in the worker: no check can write to what it is given.
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        shared = [line.split()[1] for line in maps if "carverify-reward" in line]
        assert sorted(shared) == ["r--s", "rw-s"], shared   # the frame; the status page (ours)
    finally:
        env.close()


def _limit(text: str, name: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith(name))
    return line[len(name):].split()[0]


def test_default_deadline_is_100x_the_audited_cost_at_least_50_ms():
    def report(us):
        return {"stages": [{"stage": "compile", "metrics": {"compiled_step_us": us}}]}

    assert default_deadline(report(4.4)) == 0.05
    assert default_deadline(report(2000.0)) == pytest.approx(0.2)
    assert default_deadline({}) == default_deadline(report(float("nan"))) == 0.05


@pytest.mark.slow
def test_deadline_override_and_a_wall_deadline_on_a_stopped_worker(suite, reports):
    env = wrapped(suite, reports, ballworld.CLEAN, deadline=0.1)
    try:
        assert env.deadline == 0.1
        env.reset(seed=0)
        env.compile()
        guard = env._guard
        assert guard.deadline == 0.1 and guard.wall == guard_mod.WALL_FLOOR
        env.step(2)
        # A worker that stops answering (here: stopped from outside; a check cannot sleep) is
        # killed at the wall deadline; the CPU deadline cannot fire on a process that uses no CPU.
        os.kill(guard.worker_pid, signal.SIGSTOP)
        start = time.monotonic()
        _, _, _, _, info = env.step(1)
        assert info["reward_fault"]["kind"] == "wall_deadline"
        assert guard.wall <= time.monotonic() - start < guard.wall + 10
        env.step(1)
        assert alive(guard.worker_pid)
    finally:
        env.close()


def test_a_report_graded_against_other_facts_is_refused_not_read_by_position():
    # A report stores each sub-task's oracle fact as a position in suite.facts.  UnlockPickup
    # gained key_down in the middle of its facts: a report from before it would read has_box's
    # position as near_box, and the monitor would warn (or stop training) on a correct program.
    from carverify.deploy.monitor import oracle_assignment
    from carverify.errors import UsageError
    from carverify.stages.facts import FINGERPRINT_METRIC, fingerprint
    from carverify.suite import load_suite

    suite = load_suite("minigrid-unlockpickup")
    assert "key_down" in suite.facts

    def report(metrics):
        return {"stages": [{"stage": "trajectories", "metrics": metrics}]}

    now = {"has_key.oracle_fact": 1.0, "has_box.oracle_fact": float(suite.facts.index("has_box"))}
    assert oracle_assignment(report({**now, FINGERPRINT_METRIC: fingerprint(suite.facts)}), suite) == {
        "has_key": "has_key", "has_box": "has_box"}
    before = tuple(f for f in suite.facts if f != "key_down")
    stale = {"has_key.oracle_fact": 1.0, "has_box.oracle_fact": float(before.index("has_box")),
             FINGERPRINT_METRIC: fingerprint(before)}
    with pytest.raises(UsageError, match="another version of suite 'minigrid-unlockpickup'.*audit the program again"):
        oracle_assignment(report(stale), suite)
    # A report from before fingerprints is read by position, as it always was.
    assert oracle_assignment(report(now), suite)["has_box"] == "has_box"
