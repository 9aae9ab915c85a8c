"""The DoorKey expert and oracle shared by every DoorKey suite (5x5, 6x6, 8x8)."""
from minigrid.core.world_object import Door, Goal, Key

from carverify.minigrid_planner import PICKUP, TOGGLE, find_one, go_to, interact, next_to


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
    """Oracle: sub-task facts read from the simulator's state.

    Besides the canonical decomposition (has_key, door_open, at_goal) it names the facts a
    model's decomposition may use instead: near_key (the key lies beside the agent) and
    door_unlocked (which, unlike door_open, stays true when the door is closed again).
    """
    u = env.unwrapped
    _, door = find_one(env, Door)
    key = find_one(env, Key)
    here = u.grid.get(int(u.agent_pos[0]), int(u.agent_pos[1]))
    return {
        "near_key": key is not None and next_to(env, key[1]),
        "has_key": isinstance(u.carrying, Key),
        "door_unlocked": not door.is_locked,
        "door_open": bool(door.is_open),
        "at_goal": isinstance(here, Goal),
    }
