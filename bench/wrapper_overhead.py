"""CodeReward's cost per env.step(): bare env vs wrapped (render + checks every step) vs wrapped with the memo.

Random actions, reset on episode end, the suite's accepted reference program.  Each figure
is the best of a few repeats (the machine is shared), printed as µs/step and as a ratio to
the bare step.  One run, no assertions.
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


if __name__ == "__main__":
    main()
