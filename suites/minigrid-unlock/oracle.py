"""Unlock oracle: sub-task facts read from the simulator's state."""
from minigrid.core.world_object import Key


def facts(env) -> dict[str, bool]:
    u = env.unwrapped
    return {
        "has_key": isinstance(u.carrying, Key),
        "door_open": bool(u.door.is_open),
    }
