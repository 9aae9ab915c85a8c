"""UnlockPickup oracle: sub-task facts read from the simulator's state."""
from minigrid.core.world_object import Door, Key

from carverify.envs.minigrid_planner import find, find_one, next_to


def facts(env) -> dict[str, bool]:
    u = env.unwrapped
    _, door = find_one(env, Door)
    key = find_one(env, Key)
    return {
        "near_key": key is not None and next_to(env, key[1]),
        "has_key": isinstance(u.carrying, Key),
        "door_unlocked": not door.is_locked,
        "door_open": bool(door.is_open),
        # The key was put down after unlocking the door: only the key unlocks it, so an
        # unlocked door with the key not carried means the agent let go of it (the task's
        # "put the key down", which it must do before it can carry the box).
        "key_down": not door.is_locked and not isinstance(u.carrying, Key),
        "near_box": next_to(env, u.obj),
        "has_box": u.carrying is not None and u.carrying is u.obj,
        # Not assignable (suite.toml facts): toggling the box replaces it by its contents,
        # nothing here, so it vanishes exactly as if carried and the task cannot end.
        "box_gone": u.carrying is not u.obj and all(obj is not u.obj for _, obj in find(env, type(u.obj))),
    }
