"""DoorKey oracle: sub-task facts read from the simulator's state."""
from minigrid.core.world_object import Door, Goal, Key

from carverify.minigrid_planner import find_one


def facts(env) -> dict[str, bool]:
    u = env.unwrapped
    _, door = find_one(env, Door)
    here = u.grid.get(int(u.agent_pos[0]), int(u.agent_pos[1]))
    return {
        "has_key": isinstance(u.carrying, Key),
        "door_open": bool(door.is_open),
        "at_goal": isinstance(here, Goal),
    }
