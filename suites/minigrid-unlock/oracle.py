"""Unlock oracle: sub-task facts read from the simulator's state."""
from minigrid.core.world_object import Key

from carverify.envs.minigrid_planner import find_one, next_to


def facts(env) -> dict[str, bool]:
    u = env.unwrapped
    key = find_one(env, Key)
    return {
        "near_key": key is not None and next_to(env, key[1]),
        "has_key": isinstance(u.carrying, Key),
        "door_unlocked": not u.door.is_locked,
        "door_open": bool(u.door.is_open),
    }
