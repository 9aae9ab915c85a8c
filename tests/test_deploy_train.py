"""`carverify train` with hostile programs the audit accepts: a clean stop with one line, or training on with faults counted.

The programs and the ball environment are tests/corpus/deploy/ (see tests/test_deploy.py):
each payload fires once a training env resets without a seed (after its first episode).
Real PPO, real MLflow (a SQLite file), real reward workers; nothing is mocked.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from corpus.deploy import ballworld

from carverify import deploy
from carverify.cli import EXIT_ACCEPTED, EXIT_REWARD_STOP, main
from carverify.deploy import guard as guard_mod

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
STEPS = "4096"   # a random policy's first DoorKey-5x5 episodes end at 250 steps: the ball comes at ~2000


@pytest.fixture(scope="module")
def suites_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("suites")
    ballworld.suite_folder(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARVERIFY_SUITES", str(root))
        ballworld.register(1.0)
        yield root


@pytest.fixture(autouse=True)
def no_stop_left():
    deploy.begin_run()
    yield
    deploy.clear_stop()


def train(tmp_path, name: str, *extra: str) -> tuple[int, str]:
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    code = main(["train", "--suite", ballworld.SUITE, "--reward", "car", "--program", ballworld.program(name)[1],
                 "--steps", STEPS, "--seeds", "0", "--eval-every", "100000", "--eval-episodes", "2",
                 "--out", str(tmp_path / "runs"), "--tracking-uri", uri, "--no-progress", *extra])
    return code, uri


def child_run(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("carverify-train").experiment_id])
    return client, next(r for r in runs if r.info.run_name == "car seed 0")


def worker_processes(owner: int) -> list[int]:
    """Live zygotes and workers started by `owner` (the zygote's command line names its owner's pid)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and any(b"carverify.deploy.worker" in a for a in argv) and str(owner).encode() in argv:
            out.append(int(entry.name))
    return out


# CI trains against one of each kind of fault (a hang, an exception, a reward backdoor); the
# other exceptions, memory and slow calls run in `make test-long` (about 35 s each).
IN_CI = {"hang.py", "raise_index.py", ballworld.BACKDOOR}


@pytest.mark.slow
@pytest.mark.parametrize("name", [n if n in IN_CI else pytest.param(n, marks=pytest.mark.long)
                                  for n in [*sorted(ballworld.HOSTILE), ballworld.BACKDOOR]])
def test_a_hostile_program_stops_training_with_one_line(suites_root, tmp_path, capsys, name):
    extra = ("--monitor", "stop") if name == ballworld.BACKDOOR else ()
    start = time.monotonic()
    code, uri = train(tmp_path, name, *extra)
    wall = time.monotonic() - start
    out, err = capsys.readouterr()
    assert code == EXIT_REWARD_STOP, (out, err)
    path = ballworld.program(name)[1]
    stops = [line for line in err.splitlines() if line.startswith("carverify: training stopped at step ")]
    assert len(stops) == 1, err
    reason = stops[0].split(": ", 2)[2]
    expect = "monitor: " if name == ballworld.BACKDOOR else "reward fault in "
    assert reason.startswith(expect + path + ": "), reason
    frame = reason.split("frame saved to ", 1)[1].split(" (reproduce: ", 1)[0]
    assert Path(frame).is_file() and Path(frame).parent == tmp_path / "runs" / ballworld.SUITE / "faults"
    assert f"(reproduce: carverify run {path} --obs {frame} --fn " in reason
    assert f"STOPPED {reason}" in out   # the summary table says it too

    client, run = child_run(uri)
    assert run.info.status == "FAILED"
    assert run.data.tags["carverify.stopped_by"] == ("monitor" if name == ballworld.BACKDOOR else "reward_fault")
    assert run.data.tags["carverify.error"] == reason
    counted = "monitor.goal_without_success" if name == ballworld.BACKDOOR else "reward.faults"
    assert run.data.metrics[counted] >= 1
    assert run.data.params["reward.on_fault"] == "stop" and float(run.data.params["reward.deadline_ms"]) >= 50
    curves = json.loads((tmp_path / "runs" / ballworld.SUITE / "car" / "curves.json").read_text())
    assert curves["runs"][0]["error"] == reason and curves["runs"][0]["steps"] < int(STEPS)
    # Nothing left behind; the trainer (this process) is alive and took bounded time.
    assert not guard_mod.live_guards() and worker_processes(os.getpid()) == []
    assert wall < 600


@pytest.mark.slow
# CI keeps raise_zero.py; the hang under "zero" (53 s) runs in make test-long, next to the hang under "stop".
@pytest.mark.parametrize("name", ["raise_zero.py", pytest.param("hang.py", marks=pytest.mark.long)])
def test_zero_policy_trains_to_the_end_and_logs_the_fault_count(suites_root, tmp_path, capsys, name):
    code, uri = train(tmp_path, name, "--on-fault", "zero")
    out, err = capsys.readouterr()
    assert code == EXIT_ACCEPTED, (out, err)
    assert "training stopped" not in err and "(on_fault=zero: paying nothing and counting)" in err
    client, run = child_run(uri)
    assert run.info.status == "FINISHED"
    faults = client.get_metric_history(run.info.run_id, "reward.faults")
    assert faults and faults[-1].value >= 1 and faults[-1].step >= int(STEPS)
    assert run.data.metrics["reward.fault_steps"] >= faults[-1].value
    assert 0 < run.data.metrics["reward.no_call_rate"] < 1
    curves = json.loads((tmp_path / "runs" / ballworld.SUITE / "car" / "curves.json").read_text())
    assert curves["runs"][0]["steps"] >= int(STEPS) and "error" not in curves["runs"][0]
    assert not guard_mod.live_guards() and worker_processes(os.getpid()) == []


@pytest.mark.slow
def test_a_trainer_process_exits_with_the_reason_and_leaves_no_process(suites_root, tmp_path):
    program = ballworld.program("hang.py")[1]
    script = ("import sys; sys.path.insert(0, sys.argv[1]); sys.path.append(sys.argv[2]);"
              "from corpus.deploy import ballworld; ballworld.register(1.0);"
              "from carverify.cli import main; sys.exit(main(sys.argv[3:]))")
    env = {**os.environ, "CARVERIFY_SUITES": str(suites_root)}
    proc = subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(ROOT / "tests"), "train", "--suite",
                             ballworld.SUITE, "--program", program, "--steps", STEPS, "--seeds", "0",
                             "--eval-every", "100000", "--eval-episodes", "2", "--out", str(tmp_path / "runs"),
                             "--no-track", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_REWARD_STOP, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("carverify: training stopped at step ")]
    assert len(lines) == 1 and "door_open(obs) exceeded its 50 ms CPU deadline" in lines[0]
    time.sleep(0.5)
    assert worker_processes(proc.pid) == []


@pytest.mark.slow
def test_faults_in_subprocess_envs_reach_the_callback(suites_root, tmp_path):
    """SubprocVecEnv: the fault happens in another process; its info line stops training here."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecMonitor

    from carverify import train as train_mod
    from carverify.reward import audited_report
    from carverify.suite import load_suite

    suite = load_suite(ballworld.SUITE)
    source, path = ballworld.program("raise_zero.py")
    report = audited_report(source, suite, path=path)
    venv = VecMonitor(SubprocVecEnv([_thunk(str(suites_root), source, report, path, str(tmp_path))
                                     for _ in range(2)]))
    model = PPO("MlpPolicy", venv, seed=0, device="cpu", n_steps=128, batch_size=64, n_epochs=1,
                policy_kwargs={"net_arch": [16, 16], "normalize_images": False})
    callback = train_mod.TrainCallback(_NoEvaluation(), 10**9, 4096)
    try:
        model.learn(total_timesteps=4096, callback=callback)
    finally:
        venv.close()
    assert callback.stopped == "reward_fault" and model.num_timesteps < 4096
    assert callback.stop_reason.startswith(f"reward fault in {path}: door_open(obs) raised ZeroDivisionError")
    assert deploy.stop_requested() is None   # it was asked for in another process


class _NoEvaluation:
    def __call__(self, model):
        return 0.0, {}

    def close(self):
        pass


def _thunk(root: str, source: str, report: dict, path: str, fault_dir: str):
    tests = str(Path(__file__).resolve().parent)

    def make():
        import os
        import sys

        os.environ["CARVERIFY_SUITES"] = root
        if tests not in sys.path:
            sys.path.append(tests)
        from minigrid.wrappers import ImgObsWrapper, OneHotPartialObsWrapper

        from corpus.deploy import ballworld
        from carverify.reward import CodeReward
        from carverify.suite import load_suite

        ballworld.register(1.0)
        suite = load_suite(ballworld.SUITE)
        env = CodeReward(suite.make_env(), suite, source, report, program_path=path, fault_dir=fault_dir)
        return ImgObsWrapper(OneHotPartialObsWrapper(env))

    return make
