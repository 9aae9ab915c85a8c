"""`carverify train`: PPO or SAC on a suite with the code reward (CaR) or the sparse env reward, tracked in MLflow.

Reads top to bottom like CleanRL's ppo.py: `Args`, `make_env`, `main`, then the pieces
main uses (evaluation, the callback, MLflow).  Hyperparameters are the suite adapter's
training defaults under the suite's suite.toml `[train]` section, so every command trains a
suite the same way.

What the agent observes is the adapter's choice (EnvAdapter.policy_env): MiniGrid's
egocentric 7x7 partial view one-hot encoded, Panda's state vector, a Gymnasium env's own
observation.  The reward program never sees it: it reads what CodeReward renders separately.
"""
from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from carverify.errors import UsageError

REWARDS = ("car", "sparse")
ALGORITHMS = ("ppo", "sac")
EVAL_SEED_BASE = 10_000  # evaluation layouts: seeds 10000, 10001, ... (training seeds reset from 0..n_envs)
EXPERIMENT = "carverify-train"

@dataclass
class Args:
    suite: str = "minigrid-doorkey-5x5"
    """suite name (see `carverify suites`); its suite.toml [train] section holds the hyperparameters"""
    rewards: tuple[str, ...] = ("car",)
    """car: env reward + the program's sub-task bonuses; sparse: the env reward alone"""
    steps: int | None = None
    """environment steps per run (default: [train] total_steps)"""
    seeds: tuple[int, ...] = (0, 1, 2)
    """one run per seed and reward"""
    program: str | None = None
    """reward program (default: the suite's reference program, [train] program)"""
    report: str | None = None
    """the program's audit report (JSON); without one the program is audited first (cached on disk)"""
    eval_every: int | None = None
    """evaluate every K environment steps (default: [train] eval_every)"""
    eval_episodes: int | None = None
    """deterministic evaluation episodes on fixed seeds (default: [train] eval_episodes)"""
    stop_at: float | None = None
    """stop a run once evaluation success reaches this rate (None: run all steps)"""
    ordered: bool = True
    """pay sub-task k only after k-1 (False: each the first time it holds)"""
    vec_env: str = "dummy"
    """dummy: envs in this process (fastest for small envs); subproc: one process per env"""
    torch_threads: int = 1
    """torch CPU threads; a 64x64 MLP gains nothing from more"""
    out: str = "runs"
    """curves, models and the plot go to OUT/SUITE/"""
    tracking_uri: str | None = None
    """MLflow tracking URI (default: mlruns.db in carverify's cache folder)"""
    track: bool = True
    """log params, learning curves and artifacts to MLflow"""
    progress: bool = True
    """a tqdm progress bar per run (on Ray: one bar over the runs)"""
    workers: int | None = None
    """train on Ray, at most N runs at once (a local Ray instance unless ray_address is set)"""
    ray_address: str | None = None
    """train on this Ray cluster (auto, HOST:6379, ray://HOST:10001); one Ray task per (reward, seed)"""
    on_fault: str = "stop"
    """a reward program fault (deadline overrun, exception, memory): stop the run cleanly, or zero: pay nothing, count"""
    monitor: str = "warn"
    """runtime monitor disagreements (goal vs success, oracle facts): warn (count, first one printed), stop, off"""
    reward_deadline: float | None = None
    """CPU seconds per reward call (default: 100x the audited per-step cost, at least 0.05)"""
    overrides: dict = field(default_factory=dict)
    """[train] values to override (tests use it to shrink a run)"""


def train_config(suite, overrides: dict | None = None) -> dict:
    """The adapter's training defaults, the suite's [train] section, then `overrides` (algorithm sections key by key)."""
    return suite.adapter.train_config(suite, overrides)


def make_env(suite, reward: str, program: dict | None, *, ordered: bool = True, bonus: float | None = None,
             guard: dict | None = None, settings: dict | None = None):
    """A thunk for SB3 vec envs: env -> [CodeReward] -> what the policy observes (the adapter's policy_env).

    Only the source and the report travel to a SubprocVecEnv worker; CodeReward starts that
    process's reward worker there.  Seeds come from the vec env (PPO(seed=s) resets env i
    with s + i).  `guard`: CodeReward's deadline, fault and monitor options (reward_options).
    `settings` (train_config): progress_weight > 0 adds CodeReward's potential-based shaping
    to a CaR run, discounted by the algorithm's gamma.
    """
    def thunk():
        from carverify.reward import CodeReward

        env = suite.make_env()
        if program is not None and (reward == "car" or bonus == 0.0):
            car = reward == "car" and bonus != 0.0
            algo = (settings or {}).get((settings or {}).get("algorithm", "ppo"), {})
            env = CodeReward(env, suite, program["source"], program["report"], ordered=ordered,
                             bonus=0.0 if reward == "sparse" else bonus,
                             progress_weight=float((settings or {}).get("progress_weight", 0.0)) if car else 0.0,
                             gamma=float(algo.get("gamma", 0.99)),
                             goal_needs_success=bool((settings or {}).get("goal_needs_success", False)) and car,
                             **(guard or {}))
        return suite.adapter.policy_env(suite, env)

    return thunk


def reward_options(plan: "Plan", reward: str) -> dict:
    """CodeReward's guard options for one run: the plan's fault policy and monitor for CaR.

    A sparse run's program only measures sub-task completion, so its faults are counted
    (on_fault="zero") and its disagreements only warned about: they cannot corrupt a reward.
    """
    car = reward == "car"
    return {"deadline": plan.reward_deadline, "on_fault": plan.on_fault if car else "zero",
            "monitor": plan.monitor if car or plan.monitor == "off" else "warn", "fault_dir": plan.fault_dir,
            "program_path": (plan.program or {}).get("path", "program.py")}


class RunResult(NamedTuple):
    reward: str
    seed: int
    curve: list[tuple[int, float]]            # (env steps, eval success rate)
    subtask_curve: list[tuple[int, dict]]     # (env steps, sub-task -> eval completion rate)
    steps: int                                # env steps trained
    steps_to_target: int | None               # first eval step with success >= target
    wall_seconds: float
    steps_per_second: float                   # training only, evaluation excluded
    metrics: list[tuple[int, dict]] = []      # (env steps, what each evaluation logged to MLflow)
    error: str | None = None                  # the run could not finish (e.g. its Ray worker died twice)
    stopped: str | None = None                # "reward_fault" or "monitor": the reward path stopped it (error says why)

    @property
    def final_success(self) -> float:
        return self.curve[-1][1] if self.curve else 0.0


@dataclass(frozen=True)
class Plan:
    """One training sweep, resolved and validated once in the driver.

    Plain data, so a Ray task can take it to another machine: the suite travels by name,
    the program as its source and accepting report (no file paths are read remotely).
    """
    suite: str                      # what load_suite() takes: the suite's name, or its folder for a --suite PATH
    kind: str                       # the suite's adapter ("minigrid", "panda", ...)
    steps: int
    eval_every: int
    eval_episodes: int
    config: dict                    # train_config(): the adapter's defaults under the suite's [train]
    program: dict | None
    ordered: bool = True
    vec_env: str = "dummy"
    stop_at: float | None = None
    torch_threads: int = 1
    on_fault: str = "stop"          # CodeReward's fault policy for CaR runs (carverify/deploy)
    monitor: str = "warn"           # the runtime monitor: warn, stop or off
    reward_deadline: float | None = None   # CPU seconds per reward call; None: derived from the audit
    fault_dir: str | None = None    # where faulting and disagreeing frames are saved


def make_plan(args: Args) -> Plan:
    """Every usage error surfaces here, before a run starts or a Ray worker is asked for."""
    from carverify.suite import load_suite

    bad = [r for r in args.rewards if r not in REWARDS]
    if bad:
        raise UsageError(f"unknown reward {bad[0]!r} — choose from {', '.join(REWARDS)}")
    if args.vec_env not in ("dummy", "subproc"):
        raise UsageError(f"vec_env must be 'dummy' or 'subproc', got {args.vec_env!r}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"workers must be at least 1, got {args.workers}")
    if args.vec_env == "subproc" and on_ray(args):
        # A Ray task is one process holding one CPU; fan out over seeds instead of envs.
        raise UsageError("--vec-env subproc cannot run on Ray: each Ray task trains one seed in one process")
    if not args.rewards or not args.seeds:
        raise UsageError("nothing to train: give at least one reward and one seed")
    from carverify.deploy import FAULT_POLICIES
    from carverify.deploy.monitor import MODES

    if args.on_fault not in FAULT_POLICIES:
        raise UsageError(f"on_fault must be one of {', '.join(FAULT_POLICIES)}, got {args.on_fault!r}")
    if args.monitor not in MODES:
        raise UsageError(f"monitor must be one of {', '.join(MODES)}, got {args.monitor!r}")
    if args.reward_deadline is not None and not args.reward_deadline > 0:
        raise UsageError(f"the reward deadline must be positive, got {args.reward_deadline!r} s")
    from carverify.suite import suite_ref

    suite = load_suite(args.suite)
    kind, config = suite.kind, train_config(suite, args.overrides)
    if config.get("algorithm", "ppo") not in ALGORITHMS:
        raise UsageError(f"suite {suite.name}: [train] algorithm must be one of {', '.join(ALGORITHMS)}, "
                         f"got {config.get('algorithm')!r}")
    if not isinstance(config.get("goal_needs_success", False), bool):
        # bool("false") is True: a quoted value would silently turn the rule on.
        raise UsageError(f"suite {suite.name}: [train] goal_needs_success must be true or false, "
                         f"got {config['goal_needs_success']!r}")
    steps = int(args.steps or config["total_steps"])
    eval_every = int(args.eval_every or config["eval_every"])
    eval_episodes = int(args.eval_episodes or config["eval_episodes"])
    if steps < 1 or eval_every < 1 or eval_episodes < 1:
        raise UsageError(f"steps, eval_every and eval_episodes must be at least 1, got {steps}, "
                         f"{eval_every}, {eval_episodes}")
    return Plan(suite_ref(suite), kind, steps, eval_every, eval_episodes, config, resolve_program(args, suite),
                ordered=args.ordered, vec_env=args.vec_env, stop_at=args.stop_at,
                torch_threads=args.torch_threads, on_fault=args.on_fault, monitor=args.monitor,
                reward_deadline=args.reward_deadline, fault_dir=str(Path(args.out) / suite.name / "faults"))


def suite_name(plan: Plan) -> str:
    return Path(plan.suite).name


def on_ray(args: Args) -> bool:
    return args.workers is not None or args.ray_address is not None


def main(args: Args) -> list[RunResult]:
    """Every (reward, seed) run of `args`, in that order: here one after another, or as Ray tasks."""
    plan = make_plan(args)
    tracker = Tracker(args.tracking_uri) if args.track else None
    record = Recorder(plan, args, tracker)
    try:
        if on_ray(args):
            from carverify import distributed

            distributed.train_many(plan, record.tasks, run=run_seed, failed=failed_run, workers=args.workers, address=args.ray_address,
                                   on_result=record.add, on_metrics=record.live, progress=args.progress)
        else:
            for reward, seed in record.tasks:
                record.child(reward, seed)  # open before training: the run shows as RUNNING meanwhile
                log = functools.partial(record.live, reward, seed)
                result, model = run_seed(plan, reward, seed, log=log,
                                         progress=f"{reward} seed {seed}" if args.progress else None)
                record.add(result, model)
    except BaseException:
        if tracker:
            tracker.fail_open()  # an interrupted or crashed run must not stay RUNNING
        raise
    return record.results()


def run_seed(plan: Plan, reward: str, seed: int, *, log=None, progress: str | None = None, heartbeat=None
             ) -> tuple[RunResult, bytes]:
    """One training run, with no tracking and no files: the result and the saved model's bytes.

    The same function runs in the driver (sequential) and in a Ray worker, which is what
    makes a Ray sweep's runs identical to the sequential ones.  `log(metrics, step)` gets
    every evaluation as it happens; `heartbeat(step)` about every 2% of the run.
    """
    import io

    import torch

    from carverify import deploy
    from carverify.suite import load_suite

    torch.set_num_threads(plan.torch_threads)
    deploy.begin_run()  # stops asked for and faults warned about by an earlier run here are not this run's
    suite = load_suite(plan.suite)
    model, venv, evaluator = build_run(plan, suite, reward, seed)
    callback = TrainCallback(evaluator, plan.eval_every, plan.steps, stop_at=plan.stop_at, log=log,
                             progress=progress, heartbeat=heartbeat)
    start = time.perf_counter()
    try:
        model.learn(total_timesteps=plan.steps, callback=callback)
    finally:
        venv.close()
        callback.close()
    wall = time.perf_counter() - start
    train_seconds = max(wall - callback.eval_seconds, 1e-9)
    result = RunResult(reward, seed, callback.curve, callback.subtask_curve, model.num_timesteps,
                       callback.steps_to_target, wall, model.num_timesteps / train_seconds, callback.logged,
                       error=callback.stop_reason, stopped=callback.stopped)
    buffer = io.BytesIO()
    model.save(buffer)
    return result, buffer.getvalue()


def failed_run(reward: str, seed: int, error: str) -> RunResult:
    """The result of a run that could not finish (e.g. its Ray worker died twice)."""
    return RunResult(reward, seed, [], [], 0, None, 0.0, 0.0, [], error)


def build_run(plan: Plan, suite, reward: str, seed: int):
    """The model (PPO on n_envs envs, or SAC on one), its vec env and its evaluator."""
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecMonitor

    config = plan.config
    guard = reward_options(plan, reward)
    algorithm = config.get("algorithm", "ppo")
    arguments = dict(config.get(algorithm, {}))
    net_arch = list(arguments.pop("net_arch", config.get("net_arch", [64, 64])))
    n_envs = int(config.get("n_envs", 1)) if algorithm == "ppo" else 1
    env_fns = [make_env(suite, reward, plan.program, ordered=plan.ordered, guard=guard, settings=config)
               for _ in range(n_envs)]
    venv = VecMonitor(SubprocVecEnv(env_fns) if plan.vec_env == "subproc" else DummyVecEnv(env_fns))
    policy, extra = suite.adapter.policy(suite, config)
    if algorithm == "sac":
        model = SAC(policy, venv, seed=seed, device="cpu", verbose=0, policy_kwargs={"net_arch": net_arch, **extra},
                    **arguments)
    else:
        model = PPO(policy, venv, seed=seed, device="cpu", verbose=0,
                    policy_kwargs={"net_arch": net_arch, "normalize_images": False, **extra}, **arguments)
    return model, venv, Evaluator(suite, plan.program, plan.eval_episodes, guard=guard, settings=config)


class Recorder:
    """The driver's side of a sweep: MLflow runs, models, curves.json and the plot.

    Results may arrive in any order (Ray); each reward's parent run opens with its first
    seed and closes, with curves and plot, when its last seed is in.
    """

    def __init__(self, plan: Plan, args: Args, tracker: "Tracker | None"):
        self.plan, self.args, self.tracker = plan, args, tracker
        self.tasks = [(reward, seed) for reward in args.rewards for seed in dict.fromkeys(args.seeds)]
        self.out = Path(args.out) / suite_name(plan)
        self.done: dict[tuple[str, int], RunResult] = {}
        self.parents: dict[str, str] = {}
        self.children: dict[tuple[str, int], str] = {}
        self.logged_to: dict[tuple[str, int], int] = {}  # last step whose metrics reached MLflow, per run
        self._params: dict[str, dict] = {}

    def params(self, reward: str) -> dict:
        # Once per reward: every seed's child run repeats its parent's parameters.
        if reward not in self._params:
            self._params[reward] = self._describe(reward)
        return self._params[reward]

    def _describe(self, reward: str) -> dict:
        params = run_params(self.plan, reward)
        params.update(seeds=" ".join(map(str, dict.fromkeys(self.args.seeds))))
        if on_ray(self.args):
            params.update(ray_address=self.args.ray_address or "local", ray_workers=self.args.workers or "-")
        return params

    def child(self, reward: str, seed: int) -> str | None:
        """The run's MLflow child run, opened (with its parent) the first time it is asked for."""
        if self.tracker is None:
            return None
        if reward not in self.parents:
            self.parents[reward] = self.tracker.start(f"train {suite_name(self.plan)} {reward}", self.params(reward),
                                                      self.plan.program)
        if (reward, seed) not in self.children:
            self.children[(reward, seed)] = self.tracker.child(self.parents[reward], f"{reward} seed {seed}",
                                                               {**self.params(reward), "seed": seed})
        return self.children[(reward, seed)]

    def live(self, reward: str, seed: int, metrics: dict, step: int) -> None:
        """One evaluation's metrics while the run trains (here, or sent from a Ray worker).

        A Ray run retried after its worker died repeats evaluations already logged, and a
        message may arrive after its run's result: both are dropped, so each step is logged once.
        """
        key = (reward, seed)
        if key in self.done or step <= self.logged_to.get(key, -1):
            return
        self.logged_to[key] = step
        if self.tracker:
            self.tracker.metrics(self.child(reward, seed), metrics, step)

    def add(self, result: RunResult, model: bytes | None) -> None:
        reward = result.reward
        for step, values in result.metrics:  # whatever did not arrive live (on Ray, messages can lag)
            self.live(reward, result.seed, values, step)
        child = self.child(reward, result.seed)
        if model is not None:
            (self.out / reward).mkdir(parents=True, exist_ok=True)
            (self.out / reward / f"model-seed{result.seed}.zip").write_bytes(model)
            if self.tracker:  # the trained policy belongs with its run, not only on this disk
                self.tracker.artifacts(child, [self.out / reward / f"model-seed{result.seed}.zip"], "model")
        if self.tracker:
            if result.error:
                self.tracker.fail(child, result.error, {"carverify.stopped_by": result.stopped} if result.stopped else None)
            else:
                self.tracker.finish(child, {"wall_seconds": result.wall_seconds,
                                            "steps_per_second": result.steps_per_second,
                                            "final_success_rate": result.final_success,
                                            "steps_to_target": float(result.steps_to_target or -1)})
        self.done[(reward, result.seed)] = result
        runs = [self.done.get(task) for task in self.tasks if task[0] == reward]
        if all(runs):
            self._close(reward, runs)

    def _close(self, reward: str, runs: list[RunResult]) -> None:
        curves_path = save_curves(self.out / reward / "curves.json", suite_name(self.plan), reward, self.args, runs)
        plot_path = plot_suite(self.out)
        if self.tracker and reward in self.parents:
            parent = self.parents[reward]
            self.tracker.summary(parent, [r for r in runs if not r.error])
            self.tracker.artifacts(parent, [curves_path, plot_path])
            self.tracker.finish(parent, {})
        rewards = {task[0] for task in self.tasks}
        if self.tracker and len(rewards) > 1 and all(task in self.done for task in self.tasks):
            # A parent closed before the other reward finished got a plot without its curve:
            # now that every curve is in, each parent gets the plot with CaR and sparse together.
            for other in sorted(rewards - {reward}):
                if other in self.parents:
                    self.tracker.artifacts(self.parents[other], [plot_path])

    def results(self) -> list[RunResult]:
        return [self.done[task] for task in self.tasks]


def run_params(plan: Plan, reward: str) -> dict:
    """What MLflow records of a run: enough to repeat it."""
    from carverify.suite import load_suite

    config, suite = plan.config, load_suite(plan.suite)
    algorithm = config.get("algorithm", "ppo")
    arguments = dict(config.get(algorithm, {}))
    net_arch = arguments.pop("net_arch", config.get("net_arch", [64, 64]))
    params = {"suite": suite.name, "env_id": suite.env_id, "reward": reward, "steps": plan.steps,
              "algorithm": algorithm.upper(), "eval_every": plan.eval_every, "eval_episodes": plan.eval_episodes,
              "observation": suite.adapter.policy_observation, "policy": f"{policy_name(suite, config)} {net_arch}",
              "ordered": plan.ordered, "bonus": suite.bonus, "vec_env": plan.vec_env,
              **({"n_envs": config["n_envs"]} if algorithm == "ppo" else {}),
              **({"progress_weight": config["progress_weight"]} if "progress_weight" in config else {}),
              **{f"{algorithm}.{k}": v for k, v in arguments.items()}}
    return {**params, **program_params(plan.program, reward), **guard_params(plan, reward)}


def policy_name(suite, config: dict) -> str:
    policy, _ = suite.adapter.policy(suite, config)
    return policy if isinstance(policy, str) else policy.__name__


def guard_params(plan: Plan, reward: str) -> dict:
    """The reward path's settings, for MLflow (nothing without a program)."""
    if plan.program is None:
        return {}
    options = reward_options(plan, reward)
    deadline = options["deadline"]
    if deadline is None:
        from carverify.deploy.guard import default_deadline

        deadline = default_deadline(plan.program["report"])
    return {"reward.on_fault": options["on_fault"], "reward.monitor": options["monitor"],
            "reward.deadline_ms": round(1000 * deadline, 3)}


def program_params(program: dict | None, reward: str) -> dict:
    if program is None:
        return {}
    return {"program_path": program["path"], "program_sha256": program["sha256"],
            "program_role": "reward" if reward == "car" else "measures sub-task completion only"}


def resolve_program(args: Args, suite) -> dict | None:
    """The program CodeReward runs (car) or that measures sub-task completion (sparse).

    CaR refuses anything without an accepting audit; sparse runs skip the sub-task
    metrics if the reference program is not accepted.
    """
    from carverify.reward import accepted_sha256, audited_report, read_report, reference_program

    if args.program:
        try:
            source = Path(args.program).read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise UsageError(f"cannot read {args.program}: {exc.strerror or exc}") from exc
        path = args.program
    else:
        if args.report:
            raise UsageError("--report needs --program: the report belongs to one program")
        source, path = reference_program(suite)
    if args.report:
        report = read_report(args.report)
    else:
        from carverify.status import status

        with status(f"auditing {path} before training (stored for next time)"):
            report = audited_report(source, suite, path=path)
    try:
        sha = accepted_sha256(source, report, suite.name)
    except UsageError:
        if "car" in args.rewards:
            raise
        return None
    return {"source": source, "report": report, "path": path, "sha256": sha}


def evaluation_seeds(n: int) -> list[int]:
    return [EVAL_SEED_BASE + i for i in range(n)]


class Evaluator:
    """Deterministic policy on fixed seeds; success = the environment's own (the adapter's success test).

    Envs are stepped together with one batched policy call, or in groups of the adapter's
    eval_batch (Panda: one PyBullet env at a time).
    """

    def __init__(self, suite, program: dict | None, episodes: int, guard: dict | None = None,
                 settings: dict | None = None):
        self.adapter = suite.adapter
        self.seeds = evaluation_seeds(episodes)
        batch = self.adapter.eval_batch or episodes
        # bonus 0: CodeReward only reports sub-task completions; the policy is judged by the env.
        self.envs = [make_env(suite, "sparse", program, bonus=0.0, guard=guard, settings=settings)()
                     for _ in range(min(batch, episodes))]
        if program is not None:  # compile the checks before any timer starts (shared by DummyVecEnv envs)
            self.envs[0].reset(seed=self.seeds[0])
            self.envs[0].get_wrapper_attr("compile")()

    def __call__(self, model) -> tuple[float, dict[str, float]]:
        success: list[bool] = []
        completed: list[dict] = []
        for first in range(0, len(self.seeds), len(self.envs)):
            seeds = self.seeds[first:first + len(self.envs)]
            won, done_subtasks = self._group(model, self.envs[:len(seeds)], seeds)
            success += won
            completed += done_subtasks
        names = list(completed[0]) if completed else []
        return float(np.mean(success)), {n: float(np.mean([c[n] for c in completed])) for n in names}

    def _group(self, model, envs, seeds) -> tuple[list[bool], list[dict]]:
        obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)])
        done = np.zeros(len(envs), bool)
        success = np.zeros(len(envs), bool)
        completed: list[dict] = [{} for _ in envs]
        while not done.all():
            actions, _ = model.predict(obs, deterministic=True)
            for i, env in enumerate(envs):
                if done[i]:
                    continue
                obs[i], reward, terminated, truncated, info = env.step(self._action(actions[i]))
                success[i] |= self.adapter.success(info.get("env_reward", reward), terminated, info)
                if terminated or truncated:
                    done[i] = True
                    completed[i] = info.get("subtasks", {})
        return success.tolist(), completed

    @staticmethod
    def _action(action):
        return int(action) if np.ndim(action) == 0 else action

    def close(self) -> None:
        for env in self.envs:
            env.close()


class TrainCallback(BaseCallback):
    """Evaluates every `eval_every` steps (and at step 0), logs curves, drives the progress bar."""

    def __init__(self, evaluator: Evaluator, eval_every: int, total: int, *, stop_at: float | None = None,
                 log=None, progress: str | None = None, target: float = 0.8, heartbeat=None):
        super().__init__()
        self.heartbeat, self.beat_every = heartbeat, max(total // 50, 1)
        self.next_beat = self.beat_every
        self.evaluator, self.eval_every, self.total = evaluator, eval_every, total
        self.stop_at, self.log, self.target = stop_at, log, target
        self.curve: list[tuple[int, float]] = []
        self.subtask_curve: list[tuple[int, dict]] = []
        self.logged: list[tuple[int, dict]] = []  # every evaluation's metrics, for runs logged afterwards (Ray)
        self.steps_to_target: int | None = None
        self.eval_seconds = 0.0
        self.next_eval = 0
        self.bar = None
        self.progress = progress
        self._episodes: list[dict] = []   # training episodes since the last evaluation
        self._returns: list[float] = []
        self._t0 = self._steps0 = 0.0
        self.stop_reason: str | None = None   # one line: why the reward path stopped training
        self.stopped: str | None = None       # "reward_fault" or "monitor"

    def _on_training_start(self) -> None:
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, desc=self.progress, unit="step", dynamic_ncols=True, leave=True)
        self._t0 = time.perf_counter()

    def _on_step(self) -> bool:
        if self._stop_asked():
            return False   # SB3 leaves learn() now: the cut rollout is never trained on
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done:
                self._episodes.append(info.get("subtasks", {}))
                if "episode" in info:
                    self._returns.append(info["episode"]["r"])
        if self.bar is not None:
            self.bar.update(self.training_env.num_envs)
        if self.heartbeat is not None and self.num_timesteps >= self.next_beat:
            self.heartbeat(self.num_timesteps)
            self.next_beat = (self.num_timesteps // self.beat_every + 1) * self.beat_every
        if self.num_timesteps >= self.next_eval:
            return self._evaluate()
        return True

    def _on_training_end(self) -> None:
        if self.stopped:
            # No last evaluation (it would run the faulty program again): the counters only.
            metrics = self._reward_metrics()
            self.logged.append((self.num_timesteps, metrics))
            if self.log and metrics:
                self.log(metrics, self.num_timesteps)
        elif not self.curve or self.curve[-1][0] != self.num_timesteps:
            self._evaluate()

    def _stop_asked(self) -> bool:
        """A reward fault (on_fault="stop") or a monitor disagreement (--monitor stop) in any env."""
        from carverify import deploy

        if self.stopped:
            return True
        asked = deploy.stop_requested()   # envs in this process, the evaluator's included
        if asked is None:
            for info in self.locals.get("infos", ()):
                events = ([info["reward_fault"]] if "reward_fault" in info else []) + list(info.get("monitor", ()))
                stop = next((e for e in events if e.get("stop")), None)
                if stop is not None:  # an env in a SubprocVecEnv process
                    asked = ("monitor" if stop in info.get("monitor", ()) else "reward_fault", stop["line"])
                    break
        if asked is None:
            return False
        self.stopped, self.stop_reason = asked
        print(f"carverify: training stopped at step {self.num_timesteps}: {self.stop_reason}", file=sys.stderr)
        return True

    def _reward_metrics(self) -> dict[str, float]:
        """The training envs' reward-path counters (steps served by the memo, faults, monitor), summed."""
        from carverify.deploy.reward import summed_stats

        # Ask first: a SubprocVecEnv worker dies on a get_attr that raises (a sparse run's envs
        # have no program), and training then waits on it.
        if not self.training_env.has_attr("deploy_stats"):
            return {}
        return summed_stats(self.training_env.get_attr("deploy_stats"))

    def _evaluate(self) -> bool:
        start = time.perf_counter()
        success, subtasks = self.evaluator(self.model)
        self.eval_seconds += time.perf_counter() - start
        step = self.num_timesteps
        self.curve.append((step, success))
        self.subtask_curve.append((step, subtasks))
        if self.steps_to_target is None and success >= self.target:
            self.steps_to_target = step
        self.next_eval = (step // self.eval_every + 1) * self.eval_every
        metrics = {"eval.success_rate": success, **{f"eval.subtask.{k}": v for k, v in subtasks.items()}}
        if self._episodes:
            for name in self._episodes[0]:
                metrics[f"train.subtask.{name}"] = float(np.mean([e.get(name, False) for e in self._episodes]))
        if self._returns:
            metrics["train.episode_return"] = float(np.mean(self._returns))
        metrics.update(self._reward_metrics())
        elapsed = time.perf_counter() - self._t0 - self.eval_seconds
        if step and elapsed > 0:
            metrics["train.steps_per_second"] = step / elapsed
        self.logged.append((step, metrics))
        if self.log:
            self.log(metrics, step)
        self._episodes, self._returns = [], []
        if self.bar is not None:
            self.bar.set_postfix(success=f"{success:.2f}", refresh=False)
        if self._stop_asked():   # a fault while the evaluator ran the program
            return False
        return not (self.stop_at is not None and success >= self.stop_at)

    def close(self) -> None:
        self.evaluator.close()
        if self.bar is not None:
            self.bar.close()


def save_curves(path: Path, suite: str, reward: str, args: Args, results: list[RunResult]) -> Path:
    """One JSON per (suite, reward): what plot.py draws and what demo/bench read back."""
    data = {"suite": suite, "reward": reward, "args": {k: v for k, v in asdict(args).items() if k != "overrides"},
            "runs": [{"seed": r.seed, "curve": r.curve, "subtask_curve": r.subtask_curve, "steps": r.steps,
                      "steps_to_target": r.steps_to_target, "wall_seconds": r.wall_seconds,
                      "steps_per_second": r.steps_per_second, **({"error": r.error} if r.error else {})}
                     for r in results]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def plot_suite(out: Path) -> Path:
    """success_rate.png from every OUT/SUITE/<reward>/curves.json present (CaR and sparse side by side)."""
    from carverify.plot import load_curves, plot_success

    curves = load_curves(sorted(out.glob("*/curves.json")))
    return plot_success(curves, out / "success_rate.png", title=out.name)


class Tracker:
    """MLflow: a parent run per (suite, reward) with the program, report, curves and plot; a child run per seed."""

    def __init__(self, tracking_uri: str | None):
        from carverify import tracking

        self.t = tracking
        self.uri = tracking_uri or tracking.default_tracking_uri()
        self.client = None
        self.experiment_id = None
        self.open: list[str] = []  # runs started and not yet finished

    def _open(self):
        from carverify.errors import InternalError

        t = self.t
        if self.client is None:
            with t._quiet_mlflow():
                from mlflow.exceptions import MlflowException

                try:
                    self.client = t._client(self.uri)
                except MlflowException as exc:
                    raise t._failure(UsageError, "cannot use MLflow tracking URI {uri}", self.uri, exc) from exc
                try:
                    with t._env(t._PROBE_ENV):
                        self.experiment_id = t._experiment_id(self.client, EXPERIMENT, self.uri)
                except Exception as exc:
                    raise t._failure(InternalError, "cannot reach MLflow tracking at {uri}", self.uri, exc) from exc
        return self.client

    def start(self, name: str, params: dict, program: dict | None) -> str:
        import tempfile

        from carverify import __version__
        from carverify.report.json_report import plain

        client = self._open()
        run = client.create_run(self.experiment_id, run_name=name,
                                tags={"carverify.version": __version__, "carverify.command": "train"})
        self._params(run.info.run_id, params)
        if program is not None:
            with tempfile.TemporaryDirectory(prefix="carverify-train-") as tmp:
                (Path(tmp) / "program.py").write_text(program["source"], encoding="utf-8", errors="surrogateescape")
                (Path(tmp) / "report.json").write_text(json.dumps(plain(program["report"]), indent=2),
                                                       encoding="utf-8")
                client.log_artifacts(run.info.run_id, tmp, artifact_path="program")
        self.open.append(run.info.run_id)
        return run.info.run_id

    def child(self, parent: str, name: str, params: dict) -> str:
        run = self._open().create_run(self.experiment_id, run_name=name,
                                      tags={"mlflow.parentRunId": parent, "carverify.command": "train"})
        self._params(run.info.run_id, params)
        self.open.append(run.info.run_id)
        return run.info.run_id

    def _params(self, run_id: str, params: dict) -> None:
        from mlflow.entities import Param

        self.client.log_batch(run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()])

    def metrics(self, run_id: str, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), now, int(step)) for k, v in values.items()])

    def summary(self, parent: str, results: list[RunResult]) -> None:
        """Mean/min/max success over seeds at each evaluation step, for the parent's own curve."""
        from carverify.plot import band

        if not results:
            return
        steps, mean, low, high = band([r.curve for r in results])
        for s, m, lo, hi in zip(steps, mean, low, high):
            self.metrics(parent, {"eval.success_rate.mean": m, "eval.success_rate.min": lo,
                                  "eval.success_rate.max": hi}, int(s))
        reached = [r.steps_to_target for r in results]
        self.metrics(parent, {"seeds_reaching_0.8": float(sum(s is not None for s in reached)),
                              "wall_seconds": float(sum(r.wall_seconds for r in results))}, 0)

    def artifacts(self, run_id: str, paths: list[Path], folder: str | None = None) -> None:
        for path in paths:
            self.client.log_artifact(run_id, str(path), artifact_path=folder)

    def finish(self, run_id: str, values: dict[str, float]) -> None:
        if values:
            self.metrics(run_id, values, 0)
        self.client.set_terminated(run_id, status="FINISHED")
        self.open.remove(run_id)

    def fail(self, run_id: str, message: str, tags: dict | None = None) -> None:
        """One run that could not finish while the sweep goes on: FAILED, with the reason as a tag."""
        self.client.set_tag(run_id, "carverify.error", message[:5000])
        for key, value in (tags or {}).items():
            self.client.set_tag(run_id, key, str(value)[:5000])
        self.client.set_terminated(run_id, status="FAILED")
        self.open.remove(run_id)

    def fail_open(self) -> None:
        import contextlib

        for run_id in reversed(self.open):
            with contextlib.suppress(Exception):  # keep the original error, not a second one
                self.client.set_terminated(run_id, status="FAILED")
        self.open.clear()
