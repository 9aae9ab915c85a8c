"""Scripted DoorKey expert: fetch the key, unlock the door, walk to the goal.

Every DoorKey suite (5x5, 6x6, 8x8) uses this file: their suite.toml names it as `expert`.
"""
from minigrid.core.world_object import Door, Goal, Key

from carverify.envs.minigrid_planner import PICKUP, TOGGLE, find_one, go_to, interact


def act(env) -> int:
    u = env.unwrapped
    door_pos, door = find_one(env, Door)
    if door.is_open:
        return go_to(env, find_one(env, Goal)[0])
    if isinstance(u.carrying, Key):
        return interact(env, door_pos, TOGGLE)
    return interact(env, find_one(env, Key)[0], PICKUP)
