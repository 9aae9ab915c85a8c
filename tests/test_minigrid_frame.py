"""The MiniGrid frame a program sees (carverify/envs/minigrid_frame.py) is minigrid's own get_frame, pixel for pixel."""
from __future__ import annotations

import gymnasium
import minigrid  # noqa: F401 - a core dependency: missing, this fails rather than skips
import numpy as np
import pytest

from carverify.envs.minigrid_frame import full_frame


@pytest.mark.parametrize("env_id", ["MiniGrid-DoorKey-5x5-v0", "MiniGrid-DoorKey-8x8-v0", "MiniGrid-LavaGapS5-v0"])
def test_frame_is_get_frame_on_random_play(env_id):
    """Every pose, door state and carried object random play reaches, across resets; tile sizes 8 and 5."""
    env = gymnasium.make(env_id)
    rng = np.random.default_rng(7)
    env.reset(seed=0)
    for step in range(300):
        tile = 8 if step % 3 else 5
        expected = env.unwrapped.get_frame(highlight=True, tile_size=tile)
        got = full_frame(env, tile)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected), f"{env_id}: step {step} differs"
        _, _, terminated, truncated, _ = env.step(int(rng.integers(7)))
        if terminated or truncated:
            env.reset(seed=int(rng.integers(1000)))
    env.close()


def test_an_env_that_draws_its_own_frame_keeps_it():
    env = gymnasium.make("MiniGrid-DoorKey-5x5-v0")
    env.reset(seed=0)
    own = np.full((40, 40, 3), 7, np.uint8)

    class Painted(type(env.unwrapped)):
        def get_frame(self, highlight=True, tile_size=8, agent_pov=False):
            return own

    env.unwrapped.__class__ = Painted
    assert full_frame(env, 8) is own
    env.close()
