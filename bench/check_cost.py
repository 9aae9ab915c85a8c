"""Per-step cost of one sub-task check on DoorKey-8x8 frames: restricted, plain CPython, compiled.

Also the environment's own step + render time, so the ratios say what a code reward
costs relative to the environment.  One run, ratios printed, no assertions.
"""
from __future__ import annotations

import hashlib
import statistics
import time
from pathlib import Path

import numpy as np

from carverify.compiled import compile_accepted
from carverify.episodes import suite_frames
from carverify.suite import load_suite
from sandbox import Sandbox

SUITE = "minigrid-doorkey-8x8"
BENCH = Path(__file__).resolve().parent / "programs"
# Two of the suite's reference programs (tile sampling, the common style) and one
# authored per-pixel loop program (the style where interpretation hurts most).
PROGRAMS = ("tile_probes.py", "shape_loops.py", "pixel_loops.py")
STEP_FRAMES = 64  # frames sent one request each, as a per-step sandboxed reward would
REPEATS = 3


def env_step_seconds(suite, steps: int = 500) -> float:
    env = suite.make_env()
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _, _, term, trunc, _ = env.step(int(rng.integers(0, 7)))
        suite.render(env)
        times.append(time.perf_counter() - start)
        if term or trunc:
            env.reset(seed=int(rng.integers(0, 1000)))
    return statistics.median(times)


def best_per_call(fn, frames) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for frame in frames:
            fn(frame)
        best = min(best, (time.perf_counter() - start) / len(frames))
    return best


def plain_per_call(source: str, name: str, frames) -> float:
    namespace: dict = {}
    exec(compile(source, "reference", "exec"), namespace)  # a suite's own reference program
    return best_per_call(namespace[name], frames)


def compiled_per_call(source: str, name: str, frames) -> float:
    fn = compile_accepted(source, hashlib.sha256(source.encode()).hexdigest())[name]
    fn(frames[0])  # compile outside the timing
    return best_per_call(fn, frames)


def restricted_per_call(source: str, name: str, frames) -> tuple[float, float]:
    """(time inside the child per call, wall per step when each step is its own request)."""
    with Sandbox(source) as box:
        box.load()
        inside = min(box.call([name], frames).seconds[name] / len(frames) for _ in range(REPEATS))
        walls = []
        for frame in frames[:STEP_FRAMES]:
            start = time.perf_counter()
            box.call([name], frame[None])
            walls.append(time.perf_counter() - start)
        return inside, statistics.median(walls)


def main() -> None:
    suite = load_suite(SUITE)
    frames = suite_frames(suite)
    env_step = env_step_seconds(suite)
    print(f"check cost on {SUITE} ({len(frames)} frames {frames.shape[1:]}; best of {REPEATS}); "
          f"env.step + render: {env_step * 1e6:.0f} µs (median)")
    print(f"{'program':<16} {'check':<10} {'sandboxed step':>14} {'restricted':>11} {'CPython':>10} "
          f"{'compiled':>9} {'step/comp':>9} {'restr/comp':>10} {'comp/step':>9}")
    for program in PROGRAMS:
        folder = BENCH if (BENCH / program).is_file() else suite.path / "programs"
        source = (folder / program).read_text()
        names = [n.strip().strip('"') for n in source.split("SUBTASKS = (")[1].split(")")[0].split(",") if n.strip()]
        whole = 0.0
        for name in names:
            r, step = restricted_per_call(source, name, frames)
            p = plain_per_call(source, name, frames)
            c = compiled_per_call(source, name, frames)
            whole += c
            print(f"{program:<16} {name:<10} {step * 1e6:12.0f}µs {r * 1e6:9.1f}µs {p * 1e6:8.1f}µs "
                  f"{c * 1e6:7.2f}µs {step / c:8.0f}x {r / c:9.0f}x {100 * c / env_step:8.2f}%")
        print(f"{program:<16} {'(whole)':<10} compiled checks of the whole program: {whole * 1e6:.2f} µs = "
              f"{100 * whole / env_step:.2f}% of one env step (target < 5%)")


    print("sandboxed step: one sandbox request per check call (what a per-step restricted reward costs);"
          " restricted: the call alone inside the child")
    panda_render_cost()


def panda_render_cost(frames: int = 50) -> None:
    """The Panda pixel suites' frame (TinyRenderer, no GPU): median wall and CPU ms, target < 50 ms."""
    for name in ("panda-push-pixels", "panda-slide-pixels"):
        suite = load_suite(name)
        env = suite.make_env()
        try:
            env.reset(seed=0)
            suite.render(env)   # the first frame prepares the scene
            wall, cpu = [], []
            for _ in range(frames):
                w, c = time.perf_counter(), time.process_time()
                suite.render(env)
                wall.append(time.perf_counter() - w)
                cpu.append(time.process_time() - c)
        finally:
            env.close()
        print(f"{name}: render {statistics.median(wall) * 1e3:.1f} ms wall, {statistics.median(cpu) * 1e3:.1f} ms "
              f"CPU per frame (median of {frames}; target < 50 ms)")


if __name__ == "__main__":
    main()
