"""The strongest sparse baseline a Panda user would pick: SAC with hindsight experience replay.

HER relabels stored transitions with goals the episode actually reached, so it needs the
environment's goal structure: panda-gym's dict observation (observation, achieved_goal,
desired_goal) and its own compute_reward.  It therefore trains on the raw panda-gym env, not
on carverify's state-vector view, with the suite's SAC hyperparameters, and is evaluated on
the same layouts (train.evaluation_seeds) by the same success test as the CaR and sparse runs.
"""
from __future__ import annotations

import time

import numpy as np


def run_her(plan, seed: int, *, heartbeat=None) -> dict:
    from stable_baselines3 import SAC, HerReplayBuffer
    from stable_baselines3.common.callbacks import BaseCallback

    from carverify.suite import load_suite
    from carverify.train import evaluation_seeds

    suite = load_suite(plan.suite)
    arguments = dict(plan.config.get("sac", {}))
    net_arch = list(arguments.pop("net_arch", plan.config.get("net_arch", [256, 256])))
    env = suite.make_env()
    evaluation_env = suite.make_env()
    model = SAC("MultiInputPolicy", env, seed=seed, device="cpu", verbose=0, policy_kwargs={"net_arch": net_arch},
                replay_buffer_class=HerReplayBuffer,
                # SB3's documented HER settings: 4 relabelled goals per transition, from the episode's future.
                replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"}, **arguments)
    seeds = evaluation_seeds(plan.eval_episodes)

    def evaluate() -> float:
        won = []
        for s in seeds:  # one PyBullet env, episodes one after another, as train.Evaluator does for Panda
            obs, _ = evaluation_env.reset(seed=s)
            done, success = False, False
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, info = evaluation_env.step(action)
                success |= suite.adapter.success(reward, terminated, info)
                done = terminated or truncated
            won.append(success)
        return float(np.mean(won))

    class Evaluate(BaseCallback):
        def __init__(self):
            super().__init__()
            self.curve, self.reached, self.next_eval, self.eval_seconds = [], None, 0, 0.0
            self.next_beat = max(plan.steps // 50, 1)

        def _on_step(self) -> bool:
            if heartbeat is not None and self.num_timesteps >= self.next_beat:
                heartbeat(self.num_timesteps)
                self.next_beat += max(plan.steps // 50, 1)
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += plan.eval_every
            rate = self._evaluate()
            return plan.stop_at is None or rate < plan.stop_at

        def _evaluate(self) -> float:
            t0 = time.perf_counter()
            rate = evaluate()
            self.eval_seconds += time.perf_counter() - t0
            self.curve.append((int(self.num_timesteps), rate))
            if rate >= 0.8 and self.reached is None:
                self.reached = int(self.num_timesteps)
            return rate

        def _on_training_end(self) -> None:
            if not self.curve or self.curve[-1][0] < self.num_timesteps:  # the budget's end is always evaluated
                self._evaluate()

    callback = Evaluate()
    start = time.perf_counter()
    try:
        model.learn(total_timesteps=plan.steps, callback=callback)
    finally:
        env.close()
        evaluation_env.close()
    wall = time.perf_counter() - start
    return {"curve": callback.curve, "steps": int(model.num_timesteps), "steps_to_target": callback.reached,
            "wall_seconds": wall, "steps_per_second": model.num_timesteps / max(wall - callback.eval_seconds, 1e-9),
            "error": None}
