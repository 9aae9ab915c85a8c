"""The environment-adapter protocol: everything carverify needs to know about one simulator family.

An adapter is the one place that imports a simulator.  carverify's core (suite loading,
episodes, coverage, the reward wrapper, training) asks the suite's adapter and never
branches on the family.  A suite names its adapter in suite.toml (`adapter = "minigrid"`,
a file in its folder such as `adapter = "my_adapter.py"`, or an import path such as
`adapter = "mypackage.carverify_adapter"`); that module defines `ADAPTER`, an instance of
a subclass of EnvAdapter.

What a subclass provides (the defaults suit a Gymnasium env whose success is a positive
terminal reward or info["is_success"]):

- make_env(suite): the environment;
- observe(suite, env): the observation a reward program sees (a frame or a state vector);
- frame_text(suite, frame) / prompt_observation: a frame in words for a text-only model, and
  which template tells a model what `obs` holds (carverify/prompts/observation_*.md);
- state_key(env): a hashable key of everything observe() reads, or None (no reward memo);
  state_keyer(env): a callable giving an equally exact key for that env, faster per step
  (default: state_key itself);
- success(reward, terminated, info): the environment's own success on a step;
- random_action(env, rng) / to_env_action(action): random play, and an action as env.step takes it;
- coverage_blocks(suite): named builders of coverage states (reset-to / enumerate / sample);
- simulators: distribution names whose versions shape episodes (for cache keys);
- train_defaults / policy_env(suite, env) / policy(suite, config): the [train] defaults, the
  policy's observation and actions, and its network.

The expert source (a scripted `act(env)` or recorded demonstrations) and the oracle
(`facts(env)`, optional) are suite files; carverify.suite loads them, and the adapter only
runs them.
"""
from __future__ import annotations

import functools
import importlib.metadata
import pathlib
from typing import Any, Callable, Hashable

import numpy as np

# What a coverage builder returns (carverify/coverage.py reads it): frames, per-fact arrays,
# the environment's success, transitions between states, descriptions and what was left out.
CoverageBlock = dict
DEFAULT_EXPERT_SEEDS = tuple(range(20))
DEFAULT_LAYOUTS = 8   # reset layouts whose states coverage enumerates (suite.toml [coverage] layouts)


class EnvAdapter:
    """Defaults for a Gymnasium environment; simulator families override what differs."""

    name = "gymnasium"
    # Distributions whose versions are part of every episode and coverage cache key.
    simulators: tuple[str, ...] = ("gymnasium",)
    # Coverage builders enumerate every reachable state (True) or sample a spread (False).
    exhaustive_coverage = False
    # Evaluation envs stepped together (one batched policy call): all of them, or one at a time.
    eval_batch: int | None = None
    # Whether an env's reset(seed) leaves nothing of earlier episodes behind.  When it does
    # not (PyBullet keeps its contact solver's warm start across resets), every recorded
    # episode gets an env of its own, so an episode depends on its seed alone and never on
    # which episodes the cache already held.
    reset_is_clean = True

    # -- the environment and what a program sees -----------------------------------------
    def make_env(self, suite, render_mode: str | None = None):
        import gymnasium

        return gymnasium.make(suite.env_id, render_mode=render_mode or self.render_mode(suite))

    def render_mode(self, suite) -> str | None:
        return "rgb_array" if suite.obs_kind == "rgb" else None

    def observe(self, suite, env) -> np.ndarray:
        raise NotImplementedError(f"adapter {self.name!r} does not say what a program sees")

    # Which carverify/prompts/observation_<name>.<version>.md tells a model, in the program
    # request, exactly what `obs` holds.  "pixels" is generic: the frame's shape, how to index
    # it, and its main colours read from the first frame, beside the suite's own description.
    # A suite.toml `observation = """..."""` replaces it with the suite author's own words.
    prompt_observation = "pixels"

    def frame_text(self, suite, frame: np.ndarray) -> str | None:
        """The frame in words for a model that cannot see images; None: the generic colour
        reading (carverify/generate/frames_text.py)."""
        return None

    def state_key(self, env) -> Hashable | None:
        """A key of everything observe() reads, for the reward memo; None: no memo."""
        return None

    def state_keyer(self, env) -> Callable[[], Hashable | None]:
        """key() for one env, called every step: two states get equal keys exactly when state_key's are equal."""
        return functools.partial(self.state_key, env)

    # -- stepping --------------------------------------------------------------------------
    def success(self, reward: float, terminated: bool, info: dict) -> bool:
        if "is_success" in info:
            return bool(info["is_success"])
        return bool(terminated) and float(reward) > 0

    def success_at_reset(self, env) -> bool:
        return False

    def episode_limit(self, env) -> int:
        spec = getattr(env, "spec", None)
        limit = getattr(spec, "max_episode_steps", None)
        return int(limit) if limit else 1000

    def random_action(self, env, rng: np.random.Generator):
        space = env.action_space
        if hasattr(space, "n"):
            return int(rng.integers(int(space.n)))
        return rng.uniform(space.low.astype(np.float64), space.high.astype(np.float64), space.shape)

    def expert_action(self, env, action):
        """An expert's or a demonstration's action, as stored in an episode."""
        space = env.action_space
        return int(action) if hasattr(space, "n") else np.asarray(action, dtype=np.float64)

    def to_env_action(self, env, action):
        space = env.action_space
        return action if hasattr(space, "n") else np.asarray(action, dtype=space.dtype)

    def actions_array(self, env, actions: list) -> np.ndarray:
        space = env.action_space
        if hasattr(space, "n"):
            return np.asarray(actions, dtype=np.int64)
        return np.asarray(actions, dtype=np.float64).reshape(len(actions), *space.shape)

    # -- coverage --------------------------------------------------------------------------
    def coverage_blocks(self, suite) -> list[tuple[str, int, Callable[[], CoverageBlock]]]:
        """(cache name, layout id, builder) per block of coverage states; none by default.

        An adapter that can reset an env to chosen states enumerates or samples them here.
        """
        return []

    # -- training --------------------------------------------------------------------------
    train_defaults: dict = {
        "algorithm": "ppo", "total_steps": 50_000, "n_envs": 4, "eval_every": 5_000, "eval_episodes": 10,
        "net_arch": [64, 64],
        "ppo": {"n_steps": 256, "batch_size": 256, "n_epochs": 4, "learning_rate": 3e-4, "gamma": 0.99,
                "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5},
    }
    policy_observation = "the environment's own observation"

    def policy_env(self, suite, env):
        """What the RL policy observes (the reward program never sees it)."""
        return env

    def policy(self, suite, config: dict) -> tuple[Any, dict]:
        """The stable-baselines3 policy for train_config() `config`, and keyword arguments it adds to
        policy_kwargs: SB3's MlpPolicy unless the adapter brings its own network."""
        return "MlpPolicy", {}

    def train_config(self, suite, overrides: dict | None = None) -> dict:
        """train_defaults, then the suite's [train] section, then `overrides`; algorithm sections merged by key."""
        section = suite.config.get("train", {})
        config = {**self.train_defaults, **section, **(overrides or {})}
        for algo in ("ppo", "sac"):
            if algo in self.train_defaults or algo in section or algo in (overrides or {}):
                config[algo] = {**self.train_defaults.get(algo, {}), **section.get(algo, {}),
                                **(overrides or {}).get(algo, {})}
        return config

    # -- cache keys ------------------------------------------------------------------------
    def simulator_names(self, suite) -> tuple[str, ...]:
        return self.simulators

    def cache_labels(self, suite) -> tuple[str, ...]:
        """Simulator versions that shape an episode."""
        labels = []
        for name in (*self.simulator_names(suite), "numpy"):
            try:
                labels.append(f"{name}={importlib.metadata.version(name)}")
            except importlib.metadata.PackageNotFoundError:
                labels.append(f"{name}=?")
        return tuple(labels)

    def code_files(self) -> tuple[pathlib.Path, ...]:
        """The adapter's own source files (cache keys cover them)."""
        import inspect

        return (pathlib.Path(inspect.getfile(type(self))),)


def module_adapter(module: Any, label: str) -> EnvAdapter:
    """The ADAPTER a module defines; a clear error otherwise."""
    from carverify.errors import UsageError

    adapter = getattr(module, "ADAPTER", None)
    if not isinstance(adapter, EnvAdapter):
        raise UsageError(f"adapter {label}: the module must define ADAPTER, an instance of "
                         "carverify.envs.EnvAdapter")
    return adapter


def layout_seeds(suite) -> list[int]:
    """The reset seeds coverage searches: [coverage] layout_seeds, else the first `layouts` expert seeds."""
    cov = suite.config.get("coverage", {})
    if "layout_seeds" in cov:
        return [int(s) for s in cov["layout_seeds"]]
    # The expert's own layouts first: perturbed episodes and coverage then describe the same worlds.
    seeds = [int(s) for s in suite.config.get("episodes", {}).get("expert_seeds", DEFAULT_EXPERT_SEEDS)]
    return seeds[: int(cov.get("layouts", DEFAULT_LAYOUTS))]
