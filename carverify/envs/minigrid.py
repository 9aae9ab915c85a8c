"""The MiniGrid adapter: full-grid RGB frames, an exact-state memo key, breadth-first coverage, PPO.

What a program sees is exactly what minigrid.wrappers.RGBImgObsWrapper(env, tile_size) gives:
env.unwrapped.get_frame(highlight=True, tile_size=suite.tile_size).  Coverage enumerates every
reachable abstract state of K layouts (carverify/envs/minigrid_states.py).  The RL policy sees
MiniGrid's egocentric 7x7 partial view, one-hot encoded.
"""
from __future__ import annotations

import pathlib

import numpy as np

from carverify.envs.adapter import EnvAdapter, layout_seeds

N_ACTIONS = 7  # left right forward pickup drop toggle done: the full MiniGrid action set
DEFAULT_LAYOUT_BUDGET = 40_000  # most states one layout may have before a reduction is required
VANISHED = ("an object toggled away: a box opened by toggle is replaced by its contents (nothing here), "
            "which draws exactly like a carried box, and the task can no longer be done")


class MiniGridAdapter(EnvAdapter):
    name = "minigrid"
    simulators = ("gymnasium", "minigrid")
    exhaustive_coverage = True
    # Same hyperparameters for CaR and sparse reward; close to rl-baselines3-zoo's MiniGrid
    # settings, with larger minibatches and fewer epochs (about 2x the steps/s on 2 CPU cores).
    train_defaults = {
        "algorithm": "ppo", "total_steps": 300_000, "n_envs": 8, "eval_every": 10_000, "eval_episodes": 32,
        "ppo": {"n_steps": 128, "batch_size": 256, "n_epochs": 4, "learning_rate": 2.5e-4, "gamma": 0.99,
                "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5},
        "net_arch": [64, 64],
    }
    policy_observation = "OneHotPartialObsWrapper+ImgObsWrapper (7x7x20)"

    def make_env(self, suite, render_mode: str | None = None):
        import gymnasium
        import minigrid  # noqa: F401  (registers the MiniGrid-* ids)

        return gymnasium.make(suite.env_id, render_mode=render_mode)

    def observe(self, suite, env) -> np.ndarray:
        from carverify.envs.minigrid_frame import full_frame

        # Pixel for pixel env.unwrapped.get_frame(highlight=True, tile_size=suite.tile_size), faster.
        return full_frame(env, suite.tile_size)

    def state_key(self, env):
        """Everything observe() reads: the grid's objects, the agent's pose, what it carries."""
        u = env.unwrapped
        grid = getattr(u, "grid", None)
        if grid is None or not hasattr(grid, "grid") or not hasattr(u, "agent_pos"):
            return None
        # minigrid's own tile cache keys a tile by obj.encode(); the highlight mask follows from
        # the grid, the pose and what is carried (gen_obs_grid).  A list of encodes is 7x cheaper
        # than grid.encode(), which fills a numpy array cell by cell.
        from carverify.envs.minigrid_key import cells_encoding

        carrying = u.carrying.encode() if u.carrying is not None else None
        return grid.width, cells_encoding(grid.grid), tuple(u.agent_pos), u.agent_dir, carrying

    def state_keyer(self, env):
        """The same key, with the cells' encodings reused while none of their inputs changed (minigrid_key)."""
        from carverify.envs.minigrid_key import MiniGridKey

        return MiniGridKey(env)

    prompt_observation = "minigrid"   # tiles, MiniGrid's exact colours, the highlighted view

    def frame_text(self, suite, frame: np.ndarray) -> str | None:
        from carverify.envs.minigrid_text import minigrid_text

        return minigrid_text(frame, suite.tile_size)

    def success(self, reward: float, terminated: bool, info: dict) -> bool:
        return bool(terminated) and float(reward) > 0

    def episode_limit(self, env) -> int:
        return int(env.unwrapped.max_steps)

    def random_action(self, env, rng: np.random.Generator) -> int:
        return int(rng.integers(N_ACTIONS))

    def expert_action(self, env, action) -> int:
        return int(action)

    def to_env_action(self, env, action) -> int:
        return action

    def actions_array(self, env, actions: list) -> np.ndarray:
        return np.asarray(actions, dtype=np.int64)

    def policy_env(self, suite, env):
        from minigrid.wrappers import ImgObsWrapper, OneHotPartialObsWrapper

        return ImgObsWrapper(OneHotPartialObsWrapper(env))

    def cache_labels(self, suite) -> tuple[str, ...]:
        return (f"tile_size={suite.tile_size}", *super().cache_labels(suite))

    def code_files(self) -> tuple[pathlib.Path, ...]:
        here = pathlib.Path(__file__)
        return (here, here.with_name("minigrid_states.py"), here.with_name("minigrid_planner.py"),
                here.with_name("minigrid_frame.py"))

    # -- coverage: every reachable abstract state of each layout -------------------------
    def coverage_blocks(self, suite):
        return [(f"layout-{seed}", seed, lambda seed=seed: self.layout_block(suite, seed))
                for seed in layout_seeds(suite)]

    def layout_block(self, suite, seed: int) -> dict:
        from carverify.envs.minigrid_states import GONE, reachable

        cov = suite.config.get("coverage", {})
        budget = int(cov.get("layout_budget", DEFAULT_LAYOUT_BUDGET))
        follow_vanished = bool(cov.get("follow_vanished", False))

        def keep(layout, state):
            n = len(layout.movables)
            flat = state[4:4 + 2 * n]
            if not follow_vanished and any((flat[2 * i], flat[2 * i + 1]) == GONE for i in range(n)):
                return VANISHED
            return None

        env = suite.make_env()
        try:
            layout, found = reachable(env, seed, budget=budget, keep=keep)
            oracle = suite.oracle()
            frames, labels, words = [], [], []
            for state in found.states:
                layout.set(state)
                frames.append(suite.render(env))
                labels.append(oracle(env))
                words.append(layout.describe(state))
        finally:
            env.close()
        facts = {k: np.array([bool(f[k]) for f in labels]) for k in suite.facts}
        return {"frames": np.stack(frames), "facts": facts, "success": found.success, "edges": found.edges,
                "depth": found.depth, "descriptions": np.array([w.encode() for w in words]),
                "left_out": found.left_out}


ADAPTER = MiniGridAdapter()
