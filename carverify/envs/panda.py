"""The Panda adapter: panda-gym suites on PyBullet, headless (carverify/envs/panda_sim.py).

A suite.toml with `adapter = "panda"` uses it.  A program sees the state vector or a top-down
frame (suite.toml obs_kind); coverage states are set directly in PyBullet
(carverify/envs/panda_states.py); training is SAC on the state vector.  The suites' experts
and oracles import the simulator helpers from here.
"""
from __future__ import annotations

import pathlib

import numpy as np

from carverify.envs.adapter import EnvAdapter
from carverify.envs.panda_sim import (STATE_LAYOUT, STATE_SIZE, TARGET_MARKER, frame_settings,  # noqa: F401
                                      is_success, make_env, object_target_distance, oracle_facts, render,
                                      render_frame, state_observation_env, state_vector, toward)

# -- the adapter --------------------------------------------------------------------
# Which measured threshold (panda_states summary["thresholds"]) each distance fact uses.
_DISTANCE_FACTS = {"at_target": "success", "near_target": "near", "almost_at_target": "tolerance"}
DEFAULT_PIXEL_BAND = 0.012   # metres: a pixel and a half of the bundled 64-pixel frames
DEFAULT_STATES = 2000


class PandaAdapter(EnvAdapter):
    name = "panda"
    simulators = ("panda-gym", "pybullet", "gymnasium")
    eval_batch = 1   # one PyBullet client at a time: evaluation episodes run one after another
    # Measured: replaying push's 20 random episodes in one env in order reproduces them
    # exactly; replaying each in a fresh env differs by up to 4.9 cm (the solver's warm start).
    reset_is_clean = False
    train_defaults = {
        "algorithm": "sac", "total_steps": 20_000, "eval_every": 2_500, "eval_episodes": 20,
        "n_envs": 1, "progress_weight": 10.0, "sac": {"net_arch": [256, 256]},
    }
    policy_observation = f"state vector ({STATE_SIZE} floats)"

    def make_env(self, suite, render_mode: str | None = None):
        return make_env(suite)

    def observe(self, suite, env) -> np.ndarray:
        return render(suite, env)

    def frame_text(self, suite, frame: np.ndarray) -> str | None:
        from carverify.envs.panda_text import panda_text

        settings = frame_settings(suite)
        return panda_text(frame, settings["span"] / settings["width"])

    def success(self, reward: float, terminated: bool, info: dict) -> bool:
        return bool(info.get("is_success", False))

    def success_at_reset(self, env) -> bool:
        return is_success(env)

    def random_action(self, env, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-1.0, 1.0, env.action_space.shape)

    def policy_env(self, suite, env):
        return state_observation_env(env)

    def train_config(self, suite, overrides: dict | None = None) -> dict:
        from carverify.errors import UsageError

        config = super().train_config(suite, overrides)
        if config.get("algorithm") != "sac":
            raise UsageError(f"suite {suite.name}: [train] algorithm must be 'sac' for Panda suites")
        if suite.obs_kind != "state":
            raise UsageError(f"suite {suite.name} observes '{suite.obs_kind}': train a Panda state suite "
                             "(the policy learns from the state vector)")
        return config

    def code_files(self) -> tuple[pathlib.Path, ...]:
        here = pathlib.Path(__file__)
        return here, here.with_name("panda_sim.py"), here.with_name("panda_states.py")

    # -- coverage: a spread of states set directly in PyBullet ---------------------------
    def coverage_blocks(self, suite):
        return [("states", 0, lambda: self.states_block(suite))]

    def states_block(self, suite) -> dict:
        from carverify.envs.panda_states import coverage_states as sample

        cov = suite.config.get("coverage", {})
        got = sample(suite, n=int(cov.get("states", DEFAULT_STATES)), seed=int(cov.get("seed", 0)))
        facts = {k: np.asarray(v, bool) for k, v in got["facts"].items()}
        unsettled = _unsettled_by_pixels(suite, got) if suite.obs_kind != "state" else {}
        return {"unsettled": unsettled, "frames": np.asarray(got["frames"]), "facts": facts,
                "success": np.asarray(got["success"], bool),
                "edges": np.zeros((0, 2), np.int32), "depth": np.zeros(len(got["success"]), np.int32),
                "descriptions": np.array([w.encode() for w in got["describe"]]),
                "left_out": {got.get("summary", {}).get("left_out",
                                                        "continuous state space: a spread, not every state"): 0},
                "groups": got.get("summary", {}).get("groups", {})}


def _unsettled_by_pixels(suite, got: dict) -> dict[str, np.ndarray]:
    """Distance facts a top-down frame cannot settle: within a pixel band of the threshold,
    where the object's height (invisible from above) decides the 3-D test, or a lifted object."""
    band = float(suite.config.get("coverage", {}).get("pixel_band", DEFAULT_PIXEL_BAND))
    state = np.asarray(got["state"], np.float64)
    obj, target = state[:, STATE_LAYOUT["object_position"]], state[:, STATE_LAYOUT["target_position"]]
    d3 = np.linalg.norm(obj - target, axis=1)
    d2 = np.linalg.norm(obj[:, :2] - target[:, :2], axis=1)
    # Pushing and sliding never lift the object, but the spread includes lifted ones for the
    # 2-D vs 3-D distance question; from above a lifted object shows no height and can hide the
    # target marker, so no frame settles a distance fact there.
    lifted = obj[:, 2] - obj[:, 2].min() > 0.005
    out = {}
    for fact, name in _DISTANCE_FACTS.items():
        limit = got.get("summary", {}).get("thresholds", {}).get(name)
        if fact in got["facts"] and limit is not None:
            out[fact] = (np.abs(d3 - limit) < band) | ((d2 < limit) != (d3 < limit)) | lifted
    return out


ADAPTER = PandaAdapter()
