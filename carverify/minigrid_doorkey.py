"""The DoorKey expert and oracle shared by every DoorKey suite (5x5, 6x6, 8x8)."""
from minigrid.core.world_object import Door, Goal, Key

from carverify.minigrid_planner import PICKUP, TOGGLE, find_one, go_to, interact


def act(env) -> int:
    """Scripted expert: fetch the key, unlock the door, walk to the goal."""
    u = env.unwrapped
    door_pos, door = find_one(env, Door)
    if door.is_open:
        return go_to(env, find_one(env, Goal)[0])
    if isinstance(u.carrying, Key):
        return interact(env, door_pos, TOGGLE)
    return interact(env, find_one(env, Key)[0], PICKUP)


def facts(env) -> dict[str, bool]:
    """Oracle: sub-task facts read from the simulator's state."""
    u = env.unwrapped
    _, door = find_one(env, Door)
    here = u.grid.get(int(u.agent_pos[0]), int(u.agent_pos[1]))
    return {
        "has_key": isinstance(u.carrying, Key),
        "door_open": bool(door.is_open),
        "at_goal": isinstance(here, Goal),
    }
