"""The generic Gymnasium adapter: any registered env id, seen as env.render() or as its own observation.

suite.toml:

    adapter = "gymnasium"
    env_id = "MiniGrid-Empty-5x5-v0"      # any id gymnasium.make knows
    obs_kind = "rgb"                       # rgb: env.render() (render_mode="rgb_array"); state: the env's
                                           # own observation, flattened to a 1-D float64 vector
    env_package = "minigrid"               # imported first, when the id is registered on import
    [env_kwargs]                           # passed to gymnasium.make
    [train] policy_keys = ["image"]        # a Dict observation: the keys the RL policy sees

Success is info["is_success"] where the env reports it, else a terminal step with a positive
reward.  There is no reward memo (nothing is known about the env's state) and no coverage
set (the env cannot be reset to chosen states): the audit says the coverage stage was skipped.
"""
from __future__ import annotations

import importlib

import gymnasium
import numpy as np

from carverify.envs.adapter import EnvAdapter


class GymnasiumAdapter(EnvAdapter):
    name = "gymnasium"

    def make_env(self, suite, render_mode: str | None = None):
        package = suite.config.get("env_package")
        if package:
            importlib.import_module(package)   # registers its ids
        env = gymnasium.make(suite.env_id, render_mode=render_mode or self.render_mode(suite),
                             **suite.config.get("env_kwargs", {}))
        return _LastObservation(env)

    def observe(self, suite, env) -> np.ndarray:
        if suite.obs_kind == "rgb":
            return np.ascontiguousarray(env.render(), dtype=np.uint8)
        last = env.get_wrapper_attr("last_observation")
        if last is None:
            raise AttributeError("no observation yet: reset the env first")
        return _flatten(last)

    def policy_env(self, suite, env):
        keys = suite.config.get("train", {}).get("policy_keys")
        if keys:
            env = gymnasium.wrappers.FilterObservation(env, list(keys))
        if not isinstance(env.observation_space, gymnasium.spaces.Box) or len(env.observation_space.shape) != 1:
            env = gymnasium.wrappers.FlattenObservation(env)
        return gymnasium.wrappers.TransformObservation(
            env, lambda obs: np.asarray(obs, np.float32),
            gymnasium.spaces.Box(-np.inf, np.inf, env.observation_space.shape, np.float32))

    def simulator_names(self, suite) -> tuple[str, ...]:
        package = suite.config.get("env_package")
        return ("gymnasium", *([package] if package else []))

    def cache_labels(self, suite) -> tuple[str, ...]:
        return (repr(sorted(suite.config.get("env_kwargs", {}).items())), *super().cache_labels(suite))


def _flatten(observation) -> np.ndarray:
    if isinstance(observation, dict):
        return np.concatenate([_flatten(observation[k]) for k in sorted(observation)])
    return np.asarray(observation, dtype=np.float64).reshape(-1)


class _LastObservation(gymnasium.Wrapper):
    """Keeps the env's latest observation, for a program that reads the env's own vector."""

    last_observation = None

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.last_observation = obs
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.last_observation = obs
        return obs, reward, terminated, truncated, info


ADAPTER = GymnasiumAdapter()
