"""The MiniGrid memo key made incrementally (carverify/envs/minigrid_key.py) is exactly as fine as state_key."""
from __future__ import annotations

import minigrid  # noqa: F401 - a core dependency: missing, this fails rather than skips
import numpy as np
import pytest

from carverify.suite import load_suite


@pytest.fixture(scope="module")
def suite():
    return load_suite("minigrid-doorkey-5x5")


def test_incremental_key_matches_the_full_key_on_random_play(suite):
    """Over random play (pickups, drops, door toggles, resets), two states share an incremental key
    exactly when they share state_key: no false memo hit, and no hit lost."""
    env = suite.make_env()
    keyer = suite.adapter.state_keyer(env)
    rng = np.random.default_rng(3)
    full_of: dict = {}
    fast_of: dict = {}
    env.reset(seed=0)
    changes = 0
    for _ in range(3000):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(7)))
        full, fast = suite.adapter.state_key(env), keyer()
        assert full_of.setdefault(fast, full) == full
        assert fast_of.setdefault(full, fast) == fast
        if terminated or truncated or rng.random() < 0.02:
            env.reset(seed=int(rng.integers(4)))   # few layouts: the same grids come back across episodes
            changes += 1
    assert len(full_of) > 50 and changes > 20   # many distinct states, many resets
    env.close()


def test_two_envs_in_the_same_state_share_a_key(suite):
    a, b = suite.make_env(), suite.make_env()
    a.reset(seed=5)
    b.reset(seed=5)
    key_a, key_b = suite.adapter.state_keyer(a), suite.adapter.state_keyer(b)
    for action in (0, 2, 1, 2):
        a.step(action)
        b.step(action)
        assert key_a() == key_b()
    a.close()
    b.close()


@pytest.mark.parametrize("change", ["wall colour", "wall type", "door opened in place", "object placed", "class"])
def test_a_change_in_place_changes_the_key(suite, change):
    """What encode() reads can change without grid.set (an env assigning an attribute): the next key sees it."""
    from minigrid.core.world_object import Ball, Door, Floor, Wall

    env = suite.make_env()
    env.reset(seed=1)
    keyer = suite.adapter.state_keyer(env)
    before, full_before = keyer(), suite.adapter.state_key(env)
    grid = env.unwrapped.grid
    wall = next(o for o in grid.grid if isinstance(o, Wall))
    if change == "wall colour":
        wall.color = "red"
    elif change == "wall type":
        wall.type = "floor"
    elif change == "door opened in place":
        door = next(o for o in grid.grid if isinstance(o, Door))
        door.is_locked, door.is_open = False, True
    elif change == "object placed":
        free = grid.grid.index(None)
        grid.grid[free] = Ball("blue")
    else:
        wall.__class__ = Floor   # Floor.encode is WorldObj.encode; its type attribute still says wall
        wall.type = "floor"
    after, full_after = keyer(), suite.adapter.state_key(env)
    assert full_after != full_before
    assert after != before
    env.close()
