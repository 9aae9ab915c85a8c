"""Scripted UnlockPickup expert: key, open the door, drop the key, pick up the box."""
from minigrid.core.world_object import Door, Key

from carverify.envs.minigrid_planner import PICKUP, TOGGLE, drop_safely, find_one, interact


def act(env) -> int:
    u = env.unwrapped
    box_pos = tuple(int(v) for v in u.obj.cur_pos)
    door_pos, door = find_one(env, Door)
    if not door.is_open:
        if isinstance(u.carrying, Key):
            return interact(env, door_pos, TOGGLE)
        return interact(env, find_one(env, Key)[0], PICKUP)
    # The agent carries one object at a time: the key must go before the box is taken.
    if u.carrying is not None:
        return drop_safely(env, box_pos)
    return interact(env, box_pos, PICKUP)
