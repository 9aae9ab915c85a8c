"""DoorKey oracle: sub-task facts read from the simulator's state.

Every DoorKey suite (5x5, 6x6, 8x8) uses this file: their suite.toml names it as `oracle`.
"""
from minigrid.core.world_object import Door, Goal, Key

from carverify.envs.minigrid_planner import find_one, next_to


def facts(env) -> dict[str, bool]:
    """Besides the canonical decomposition (has_key, door_open, at_goal) it names the facts a
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
