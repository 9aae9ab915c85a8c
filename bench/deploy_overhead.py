"""What containment costs: the guarded reward path against the old in-process call, and how often the memo spares a call.

1. Per env.step() on DoorKey-5x5 and 8x8 (random actions, the suite's reference program):
   the bare env; the checks called in the trainer's process as before (`InProcess`, kept
   here only for this comparison); CodeReward's guarded path (the reward worker).  Each
   with the exact-state memo (the default) and without it (every step renders and calls).
   Best of a few interleaved repeats, as µs/step and as a ratio to the bare step.
2. One call alone on a fixed frame: in-process checks vs a guarded round trip.
3. A PPO run on DoorKey-5x5 (train.py settings, CaR): steps/s against the sparse reward,
   and over the run's steps how many never called the worker (memo hits, episodes already
   fully paid).

    python bench/deploy_overhead.py [PPO_STEPS]

One run, no assertions; the machine may be shared, so read ratios, not absolute times.  Next to
wall-clock ratios it prints the same ratios in this process's CPU time, which other work on a
busy host distorts far less (the reward worker's own CPU is outside it: ~1% of steps call it).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

# bench/coverage.py would shadow the `coverage` package numba imports when it is installed.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import gymnasium  # noqa: E402
import numpy as np  # noqa: E402

from carverify.deploy.reward import clear_memo, summed_stats  # noqa: E402
from carverify.reward import CodeReward, audited_report, reference_program  # noqa: E402
from carverify.suite import load_suite  # noqa: E402

SUITES = ("minigrid-doorkey-5x5", "minigrid-doorkey-8x8")
STEPS = 3000
REPEATS = 5


class InProcess(gymnasium.Wrapper):
    """The pre-containment path, for comparison only: the compiled checks called in this process."""

    def __init__(self, env, suite, source, sha256, memo: bool):
        super().__init__(env)
        from carverify.compiled import compile_accepted

        self.suite, self.memo_on = suite, memo
        self.checks = tuple(compile_accepted(source, sha256).values())
        self.memo: dict = {}
        self.paid = [False] * len(self.checks)
        self.state_key = suite.adapter.state_keyer(env)   # the same exact key CodeReward uses

    def reset(self, **kwargs):
        self.paid = [False] * len(self.checks)
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if not all(self.paid):
            key = self.state_key() if self.memo_on else None
            holds = self.memo.get(key) if key is not None else None
            if holds is None:
                frame = self.suite.render(self.env)
                holds = tuple(check(frame) for check in self.checks)
                if key is not None:
                    self.memo[key] = holds
            for i, h in enumerate(holds):
                if self.paid[i]:
                    continue
                if not h:
                    break
                self.paid[i] = True
                reward += 1.0
        return obs, reward, terminated, truncated, info


def per_step(env, steps: int = STEPS) -> tuple[float, float]:
    """(wall, this process's CPU) seconds per step."""
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 7, size=steps)
    env.reset(seed=0)
    start, cpu = time.perf_counter(), time.process_time()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


def best_of(envs: dict) -> tuple[dict[str, float], dict[str, float]]:
    """Best wall and best CPU time per step of each variant."""
    wall, cpu = dict.fromkeys(envs, float("inf")), dict.fromkeys(envs, float("inf"))
    for _ in range(REPEATS):
        for name, env in envs.items():   # interleaved: load from other work hits every variant alike
            w, c = per_step(env)
            wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)
    return wall, cpu


def call_cost(suite, source, report, repeats: int = 2000) -> tuple[float, float]:
    """(in-process checks, guarded round trip) for one frame, best of five passes."""
    from carverify.compiled import compile_accepted

    env = CodeReward(suite.make_env(), suite, source, report)
    env.reset(seed=0)
    env.compile()
    frame = np.ascontiguousarray(suite.render(env.env))
    checks = tuple(compile_accepted(source, env.sha256).values())
    guard = env._guard
    best = [float("inf"), float("inf")]
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            for check in checks:
                check(frame)
        best[0] = min(best[0], (time.perf_counter() - start) / repeats)
        start = time.perf_counter()
        for _ in range(repeats):
            guard.call(frame)
        best[1] = min(best[1], (time.perf_counter() - start) / repeats)
    env.close()
    return best[0], best[1]


def main() -> None:
    ppo_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 32_768
    print(f"Reward path per env.step() ({STEPS} random steps, best of {REPEATS}); ratio = step / bare step")
    print(f"{'suite':<22} {'bare µs':>8} {'in-proc':>8} {'ratio':>6} {'guarded':>8} {'ratio':>6} "
          f"{'in-proc no memo':>15} {'ratio':>6} {'guarded no memo':>15} {'ratio':>6}")
    for name in SUITES:
        suite = load_suite(name)
        source, path = reference_program(suite)
        report = audited_report(source, suite, path=path)
        guarded = CodeReward(suite.make_env(), suite, source, report)
        guarded_plain = CodeReward(suite.make_env(), suite, source, report, memo=False)
        guarded.reset(seed=0)
        guarded.compile()   # starts the reward worker: outside the timings
        envs = {"bare": suite.make_env(),
                "inproc": InProcess(suite.make_env(), suite, source, guarded.sha256, memo=True),
                "guarded": guarded,
                "inproc_plain": InProcess(suite.make_env(), suite, source, guarded.sha256, memo=False),
                "guarded_plain": guarded_plain}
        t, cpu = best_of(envs)
        bare = t["bare"]
        print(f"{name:<22} {bare * 1e6:>8.0f} {t['inproc'] * 1e6:>8.0f} {t['inproc'] / bare:>6.2f} "
              f"{t['guarded'] * 1e6:>8.0f} {t['guarded'] / bare:>6.2f} {t['inproc_plain'] * 1e6:>15.0f} "
              f"{t['inproc_plain'] / bare:>6.2f} {t['guarded_plain'] * 1e6:>15.0f} {t['guarded_plain'] / bare:>6.2f}")
        # CPU time of this process is what a busy host distorts least; the worker's own CPU is not
        # in it, which is why only the memo columns are shown (the worker runs on ~1% of steps).
        print(f"{'':<22} trainer CPU per step: bare {cpu['bare'] * 1e6:.0f} µs, in-process {cpu['inproc'] * 1e6:.0f} µs "
              f"(ratio {cpu['inproc'] / cpu['bare']:.2f}), guarded {cpu['guarded'] * 1e6:.0f} µs "
              f"(ratio {cpu['guarded'] / cpu['bare']:.2f})")
        inproc, round_trip = call_cost(suite, source, report)
        print(f"{'':<22} one call on a fixed frame: in-process {inproc * 1e6:.1f} µs, guarded round trip "
              f"{round_trip * 1e6:.1f} µs")
        for env in envs.values():
            env.close()
    ppo_run("minigrid-doorkey-5x5", ppo_steps)


def ppo_run(suite_name: str, steps: int) -> None:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from carverify import train

    torch.set_num_threads(1)
    suite = load_suite(suite_name)
    source, path = reference_program(suite)
    program = {"source": source, "report": audited_report(source, suite, path=path)}
    config = train.train_config(suite)
    warm = train.make_env(suite, "car", program)()
    warm.reset(seed=0)
    warm.get_wrapper_attr("compile")()   # the reward worker starts outside the timings (shared by the envs)
    clear_memo()   # the memo starts cold, as in a fresh training process
    rates, cpu_rates, stats = {}, {}, {}
    for reward in ("sparse", "car"):
        venv = DummyVecEnv([train.make_env(suite, reward, program) for _ in range(config["n_envs"])])
        model = PPO("MlpPolicy", venv, seed=0, device="cpu",
                    policy_kwargs={"net_arch": list(config["net_arch"]), "normalize_images": False}, **config["ppo"])
        start, cpu = time.perf_counter(), time.process_time()
        model.learn(steps)
        rates[reward] = steps / (time.perf_counter() - start)
        cpu_rates[reward] = steps / (time.process_time() - cpu)
        if reward == "car":
            stats = summed_stats(venv.get_attr("deploy_stats"))
        venv.close()
    warm.close()
    s = stats
    print(f"\nPPO on {suite_name}, {steps} steps (train.py settings, {config['n_envs']} envs): sparse "
          f"{rates['sparse']:.0f} steps/s, CaR (guarded) {rates['car']:.0f} steps/s, CaR/sparse = "
          f"{rates['car'] / rates['sparse']:.2f}; per CPU second of the trainer: sparse {cpu_rates['sparse']:.0f}, "
          f"CaR {cpu_rates['car']:.0f}, CaR/sparse = {cpu_rates['car'] / cpu_rates['sparse']:.2f}")
    print(f"reward steps {s['reward.steps']:.0f}: worker called on {s['reward.step_calls']:.0f} "
          f"({100 * (1 - s['reward.no_call_rate']):.1f}%), memo hits {s['reward.memo_hits']:.0f}, "
          f"episode already paid {s['reward.paid_skips']:.0f}; {100 * s['reward.no_call_rate']:.1f}% of steps never "
          f"called the worker (memo hit rate {100 * s.get('reward.memo_hit_rate', 0):.1f}% of the steps that "
          f"needed an answer); faults {s['reward.faults']:.0f}")


if __name__ == "__main__":
    main()
