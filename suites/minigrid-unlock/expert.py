"""Scripted Unlock expert: fetch the key, then toggle the locked door open."""
from minigrid.core.world_object import Key

from carverify.envs.minigrid_planner import PICKUP, TOGGLE, find_one, interact


def act(env) -> int:
    u = env.unwrapped
    door_pos = tuple(int(v) for v in u.door.cur_pos)
    if isinstance(u.carrying, Key):
        return interact(env, door_pos, TOGGLE)
    return interact(env, find_one(env, Key)[0], PICKUP)
