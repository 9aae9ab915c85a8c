"""Tabletop suites (suites/tabletop-block-in-bowl/tabletop.py): a deterministic headless scene, an
expert that solves the task, a coverage sampler, and reference programs whose truth comes from the
simulator's oracle rather than from carverify."""
from __future__ import annotations

import hashlib
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

from carverify.suite import REPO_ROOT, load_suite
from plain_programs import run_file

PIXELS, STATE = "tabletop-block-in-bowl", "tabletop-block-in-bowl-state"
BOX_PIXELS, BOX_STATE = "tabletop-block-in-box", "tabletop-block-in-box-state"
PILES_PIXELS, PILES_STATE = "tabletop-separate-piles", "tabletop-separate-piles-state"


def _module(suite):
    """The suite's own simulator module (loaded from its folder, as a user's adapter would be)."""
    return inspect.getmodule(type(suite.adapter))


def _expert_episode(suite, seed: int) -> tuple[list[np.ndarray], bool]:
    env, act = suite.make_env(), suite.expert()
    try:
        env.reset(seed=seed)
        seen, info = [suite.render(env)], {}
        for _ in range(env.unwrapped.max_steps):
            _, _, terminated, truncated, info = env.step(act(env))
            seen.append(suite.render(env))
            if terminated or truncated:
                break
        return seen, bool(info.get("is_success"))
    finally:
        env.close()


def test_rendering_is_deterministic_per_seed():
    suite = load_suite(PIXELS)
    first, won = _expert_episode(suite, 7)
    again, _ = _expert_episode(suite, 7)
    other, _ = _expert_episode(suite, 8)
    assert won and len(first) == 4
    assert all(f.shape == (64, 64, 3) and f.dtype == np.uint8 for f in first)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_a_fresh_process_without_display_or_gpu_draws_the_same_frames():
    # No window and no GPU: PyBullet DIRECT and TinyRenderer run on the CPU alone.
    suite = load_suite(PIXELS)
    frames, _ = _expert_episode(suite, 3)
    digest = hashlib.sha256(b"".join(f.tobytes() for f in frames)).hexdigest()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    code = ("import hashlib, sys; sys.path.insert(0, sys.argv[1]); import test_tabletop as t; "
            "from carverify.suite import load_suite; "
            "f, _ = t._expert_episode(load_suite(t.PIXELS), 3); "
            "print(hashlib.sha256(b''.join(x.tobytes() for x in f)).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT / "tests")], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == digest
    assert "pybullet build time" not in out.stdout + out.stderr   # the C library's chatter is silenced


def test_state_vector_follows_the_documented_layout():
    suite = load_suite(STATE)
    env = suite.make_env()
    try:
        env.reset(seed=0)
        obs = suite.render(env)
        u = env.unwrapped
        assert obs.shape == (18,) and obs.dtype == np.float64
        np.testing.assert_array_equal(obs[0:9].reshape(3, 3), u.block_positions())
        np.testing.assert_array_equal(obs[9:18].reshape(3, 3), u.receptacle_positions())
        assert np.allclose(obs[2:9:3], 0.02, atol=1e-3) and np.all(obs[11:18:3] == 0.0)
    finally:
        env.close()


# Primitives the expert needs: one per block.
EXPERT_STEPS = {STATE: 3, BOX_STATE: 1, PILES_STATE: 4}


@pytest.mark.parametrize("name", sorted(EXPERT_STEPS))
def test_expert_solves_the_listed_seeds_one_primitive_per_block(name):
    suite = load_suite(name)
    for seed in suite.config["episodes"]["expert_seeds"][:8]:
        seen, won = _expert_episode(suite, seed)
        assert won and len(seen) == EXPERT_STEPS[name] + 1, seed


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(EXPERT_STEPS))
def test_expert_solves_at_least_95_percent_of_200_seeds(name):
    suite = load_suite(name)
    wins = sum(_expert_episode(suite, seed)[1] for seed in range(200))
    assert wins >= 190, f"{wins}/200"


def test_a_pick_that_meets_no_block_changes_nothing():
    suite = load_suite(STATE)
    env = suite.make_env()
    try:
        env.reset(seed=2)
        u = env.unwrapped
        before = u.state_vector()
        bowl = u.receptacle_positions()[0]
        _, _, _, _, info = env.step([bowl[0], bowl[1], 0.0, 0.0])   # the bowl's empty floor
        assert info["picked"] == -1
        np.testing.assert_allclose(u.state_vector(), before, atol=1e-6)
    finally:
        env.close()


def test_coverage_sampler_is_deterministic_and_reaches_every_kind_of_place():
    suite = load_suite(STATE)
    sample = _module(suite).coverage_states
    a = sample(suite.make_env(), suite.oracle(), obs_kind="state", n=60, seed=0, pixel_band=0.012)
    b = sample(suite.make_env(), suite.oracle(), obs_kind="state", n=60, seed=0, pixel_band=0.012)
    np.testing.assert_array_equal(a["frames"], b["frames"])
    assert set(a["groups"]) == {"table", "own_bowl", "other_bowl", "outside", "rim", "stacked"}
    assert 0 < a["facts"]["red_in_bowl"].sum() < 60 and a["facts"]["all_blocks_placed"].any()
    np.testing.assert_array_equal(a["success"], a["facts"]["all_blocks_placed"])


# Each reference program against the oracle on settled states drawn by the sampler, run as plain
# Python (no sandbox, no numba, no audit): what the manifest claims must hold in the simulator.
TRUTH = {
    PIXELS: {"pixel_centroids.py": True, "loose_threshold.py": False, "wrong_pairing.py": False},
    STATE: {"state_checks.py": True, "loose_threshold.py": False, "distance_3d.py": False,
            "wrong_pairing.py": False},
    BOX_PIXELS: {"box_centroids.py": True, "loose_threshold.py": False},
    BOX_STATE: {"box_checks.py": True, "swapped_axes.py": False},
    PILES_PIXELS: {"zone_extents.py": True, "loose_reach.py": False},
    PILES_STATE: {"state_checks.py": True, "first_block_only.py": False},
}


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_reference_programs_against_the_oracle(name):
    suite = load_suite(name)
    got = _module(suite).coverage_states(suite.make_env(), suite.oracle(), obs_kind=suite.obs_kind, n=150,
                                         seed=1, pixel_band=0.012)
    for program, right in TRUTH[name].items():
        checks = run_file(suite.path / "programs" / program)
        wrong = 0
        for fact in checks["SUBTASKS"]:
            settled = ~got["unsettled"].get(fact, np.zeros(len(got["success"]), bool))
            said = np.array([bool(checks[fact](obs)) for obs in got["frames"]])
            wrong += int(np.sum((said != got["facts"][fact]) & settled))
        assert (wrong == 0) == right, f"{program}: wrong on {wrong} settled (state, sub-task) pairs"


# -- training: the policy's discrete (pick cell, place cell) actions ---------------------------
def _policy_env(name):
    suite = load_suite(name)
    return suite, suite.adapter.policy_env(suite, suite.make_env())


def test_grid_cells_map_to_the_intended_pick_and_place_points():
    suite, env = _policy_env(STATE)
    t = _module(suite)
    try:
        assert env.action_space.nvec.tolist() == [t.GRID * t.GRID] * 2
        axis = np.linspace(-0.25, 0.25, t.GRID)
        assert axis[1] - axis[0] == pytest.approx(0.025)
        for ix, iy, jx, jy in [(0, 0, 20, 20), (3, 17, 10, 0), (20, 0, 0, 20), (11, 9, 9, 11)]:
            point = env.to_continuous([t.GRID * ix + iy, t.GRID * jx + jy])
            np.testing.assert_allclose(point, [axis[ix], axis[iy], axis[jx], axis[jy]])
        # Through the simulator: the cell nearest a block picks it up, and it lands at the place cell's point.
        obs, _ = env.reset(seed=5)
        u = env.unwrapped
        np.testing.assert_allclose(obs, (u.state_vector() / 0.25).astype(np.float32))
        block = u.block_positions()[1]
        pick = t.nearest_cell(block[0], block[1])
        place = t.GRID * 4 + 16   # (-0.15, +0.15)
        assert np.linalg.norm(np.array(t.cell_point(pick)) - block[:2]) < 0.018
        _, _, _, _, info = env.step([pick, place])
        assert info["picked"] == 1
        np.testing.assert_allclose(u.block_positions()[1, :2], [-0.15, 0.15], atol=0.005)
        # A cell whose point lies on no block picks nothing: picks are never snapped to a block.
        before = u.state_vector()
        empty = next(c for c in range(t.GRID * t.GRID)
                     if np.min(np.linalg.norm(u.block_positions()[:, :2] - t.cell_point(c), axis=1)) > 0.05)
        _, _, _, _, info = env.step([empty, place])
        assert info["picked"] == -1
        np.testing.assert_allclose(u.state_vector(), before, atol=1e-6)
    finally:
        env.close()


@pytest.mark.parametrize("name", [PIXELS, STATE])
def test_the_expert_on_grid_cells_solves_every_listed_seed(name):
    # The expert's targets (block and bowl centres) moved to their nearest cells: the grid is
    # fine enough when this solves every seed, judged by the simulator alone.
    suite, env = _policy_env(name)
    t = _module(suite)
    try:
        for seed in suite.config["episodes"]["expert_seeds"]:
            obs, _ = env.reset(seed=seed)
            assert obs.shape == (18,) and obs.dtype == np.float32   # the state vector, also on a pixel suite
            for step in range(3):
                px, py, qx, qy = suite.expert()(env)
                _, _, terminated, truncated, info = env.step([t.nearest_cell(px, py), t.nearest_cell(qx, qy)])
                assert info["picked"] == step and env.unwrapped.in_bowl()[: step + 1].all(), (seed, step)
            assert terminated and info["is_success"] and env.unwrapped.is_success(), seed
    finally:
        env.close()


@pytest.mark.long
def test_a_short_train_runs_car_and_sparse_on_the_grid_policy(tmp_path, capsys):
    # The suite's own [train] settings through the CLI, shrunk: what `make bench-rl` will run at length.
    import json

    from carverify.cli import main

    code = main(["train", "--suite", STATE, "--reward", "car", "sparse", "--seeds", "0", "--steps", "512",
                 "--eval-every", "256", "--eval-episodes", "2", "--no-track", "--no-progress",
                 "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    for reward in ("car", "sparse"):
        run = json.loads((tmp_path / STATE / reward / "curves.json").read_text())["runs"][0]
        assert [s for s, _ in run["curve"]][-1] >= 512 and run["steps_per_second"] > 0
        assert set(run["subtask_curve"][-1][1]) == {"red_in_bowl", "green_in_bowl", "blue_in_bowl",
                                                   "all_blocks_placed"}
        assert (tmp_path / STATE / reward / "model-seed0.zip").stat().st_size > 1000


def test_the_cell_policy_scores_cells_the_same_wherever_the_scene_is():
    # Translation equivariance, the reason for the per-cell network: moving every object by whole
    # cells moves every cell's pick and place score with them (cells far from the edges compared).
    import torch

    suite = load_suite(STATE)
    t = _module(suite)
    policy, extra = suite.adapter.policy(suite, suite.adapter.train_config(suite))
    assert policy.__name__ == "CellScorePolicy" and extra["pairs"] == [(0, 3), (1, 4), (2, 5)]
    torch.manual_seed(0)
    net = t._cell_policy().CellScorer(18, extra["points"], extra["pairs"], [16])
    for layer in (net.pick[-1], net.place[-1]):   # trained-like weights, not the near-zero first ones
        torch.nn.init.normal_(layer.weight)
    step = 0.025 / 0.25   # one cell, in observation units
    scene = np.array([-0.1, 0.05, 0.02, 0.0, -0.1, 0.02, 0.1, 0.1, 0.02,
                      -0.1, -0.15, 0.0, 0.1, -0.05, 0.0, 0.0, 0.15, 0.0]) / 0.25
    moved = scene.copy()
    moved[0::3] += 2 * step   # two cells along x
    moved[1::3] -= 3 * step   # three cells along -y
    with torch.no_grad():
        a, b = (net.forward_actor(torch.as_tensor(o[None], dtype=torch.float32))[0].numpy().reshape(2, t.GRID, t.GRID)
                for o in (scene, moved))
    np.testing.assert_allclose(b[:, 5 + 2:16 + 2, 5 - 3:16 - 3], a[:, 5:16, 5:16], rtol=1e-5, atol=1e-5)
    assert not np.allclose(a[:, 5:16, 5:16], a[:, 6:17, 5:16])   # and the scores do depend on where the objects are
