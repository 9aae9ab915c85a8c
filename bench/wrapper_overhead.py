"""CodeReward's cost per env.step(): bare env vs wrapped (render + checks every step) vs wrapped with the memo.

Random actions, reset on episode end, the suite's accepted reference program.  Each figure
is the best of a few repeats (the machine is shared), printed as µs/step and as a ratio to
the bare step.  Then what it means for training: PPO steps/s on DoorKey-5x5 with the sparse
reward, CaR, and CaR without the memo (the train.py setup, interleaved, best of 2).
One run, no assertions.
"""
from __future__ import annotations

import time

import numpy as np

from carverify.reward import CodeReward, audited_report, reference_program
from carverify.suite import load_suite

SUITES = ("minigrid-doorkey-5x5", "minigrid-doorkey-8x8")
STEPS = 4000
REPEATS = 5


def per_step(env, steps: int = STEPS) -> float:
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 7, size=steps)
    env.reset(seed=0)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            env.reset()
    return (time.perf_counter() - start) / steps


def best_of(envs: dict) -> dict[str, float]:
    """Best time per variant, the variants interleaved so that load from other work hits them alike."""
    best = dict.fromkeys(envs, float("inf"))
    for _ in range(REPEATS):
        for name, env in envs.items():
            best[name] = min(best[name], per_step(env))
    return best


def render_only(suite, steps: int = 1000) -> tuple[float, float]:
    """suite.render (highlight=True, what programs see) and the same frame without the view highlight."""
    env = suite.make_env()
    env.reset(seed=0)
    u = env.unwrapped
    out = []
    for highlight in (True, False):
        start = time.perf_counter()
        for _ in range(steps):
            u.get_frame(highlight=highlight, tile_size=suite.tile_size)
        out.append((time.perf_counter() - start) / steps)
    return out[0], out[1]


def main() -> None:
    print(f"CodeReward overhead per env.step() ({STEPS} random steps, best of {REPEATS})")
    print(f"{'suite':<22} {'bare µs':>8} {'render µs':>9} {'no-hl µs':>8} {'wrapped µs':>10} {'ratio':>6} "
          f"{'+memo µs':>9} {'ratio':>6} {'renders/step':>12}")
    for name in SUITES:
        suite = load_suite(name)
        source, path = reference_program(suite)
        report = audited_report(source, suite, path=path)
        plain = CodeReward(suite.make_env(), suite, source, report, memo=False)
        plain.reset(seed=0)
        plain.compile()
        memo_env = CodeReward(suite.make_env(), suite, source, report, memo=True)
        times = best_of({"bare": suite.make_env(), "plain": plain, "memo": memo_env})
        bare, wrapped, memo = times["bare"], times["plain"], times["memo"]
        renders = memo_env.renders / (STEPS * REPEATS)
        hl, no_hl = render_only(suite)
        print(f"{name:<22} {bare * 1e6:>8.0f} {hl * 1e6:>9.0f} {no_hl * 1e6:>8.0f} {wrapped * 1e6:>10.0f} "
              f"{wrapped / bare:>6.2f} {memo * 1e6:>9.0f} {memo / bare:>6.2f} {renders:>12.3f}")
    print("ratio = wrapped step / bare step; +memo = CodeReward's default (exact-state memo of check results)")
    training_throughput()


def training_throughput(suite_name: str = "minigrid-doorkey-5x5", steps: int = 16_384, repeats: int = 2) -> None:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from carverify import train

    torch.set_num_threads(1)
    suite = load_suite(suite_name)
    source, path = reference_program(suite)
    program = {"source": source, "report": audited_report(source, suite, path=path)}
    config = train.train_config(suite)
    variants = {"sparse": ("sparse", True), "CaR": ("car", True), "CaR, no memo": ("car", False)}
    best = dict.fromkeys(variants, 0.0)
    warm = train.make_env(suite, "car", program)()
    warm.reset(seed=0)
    warm.get_wrapper_attr("compile")()  # numba compiles once per process, outside the timings
    for _ in range(repeats):
        for label, (reward, memo) in variants.items():
            venv = DummyVecEnv([train.make_env(suite, reward, program) for _ in range(config["n_envs"])])
            if reward == "car":
                for env in venv.envs:
                    env.set_wrapper_attr("memo", memo)  # the CodeReward inside the observation wrappers
            model = PPO("MlpPolicy", venv, seed=0, device="cpu",
                        policy_kwargs={"net_arch": list(config["net_arch"]), "normalize_images": False},
                        **config["ppo"])
            start = time.perf_counter()
            model.learn(steps)
            best[label] = max(best[label], steps / (time.perf_counter() - start))
            venv.close()
    print(f"\nPPO training on {suite_name} ({steps} steps, train.py settings, best of {repeats}): "
          + ", ".join(f"{label} {rate:.0f} steps/s" for label, rate in best.items())
          + f"; CaR/sparse = {best['CaR'] / best['sparse']:.2f}")


if __name__ == "__main__":
    main()
