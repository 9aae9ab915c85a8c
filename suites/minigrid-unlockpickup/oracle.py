"""UnlockPickup oracle: sub-task facts read from the simulator's state."""
from minigrid.core.world_object import Door, Key

from carverify.minigrid_planner import find_one


def facts(env) -> dict[str, bool]:
    u = env.unwrapped
    _, door = find_one(env, Door)
    return {
        "has_key": isinstance(u.carrying, Key),
        "door_open": bool(door.is_open),
        "has_box": u.carrying is not None and u.carrying is u.obj,
    }
