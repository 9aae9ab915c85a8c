"""Style: fully vectorised boolean masks over the whole frame.

Each check builds boolean masks with comparisons and ``&``/``|``/``~`` on whole
colour planes, then reduces them once.  No Python-level loops.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def planes(obs):
    """Signed copies of the three colour planes (no uint8 wrap-around)."""
    red = obs[:, :, 0].astype(np.int32)
    green = obs[:, :, 1].astype(np.int32)
    blue = obs[:, :, 2].astype(np.int32)
    return red, green, blue


def has_key(obs):
    """No saturated yellow (key) pixels are left anywhere in the frame."""
    red, green, blue = planes(obs)
    key = (red >= 230) & (green >= 230) & (blue <= 120)
    return bool(key.sum() < 4)


def door_open(obs):
    """Closed doors draw a yellow left border; the first column of every tile is tested."""
    red, green, blue = planes(obs)
    yellowish = (red >= 150) & (green >= 150) & (blue + 60 <= red)
    left = yellowish[:, 0::TILE]
    rows = np.arange(obs.shape[0]) % TILE
    inside = (rows >= 1) & (rows <= TILE - 2)
    border = left & inside.reshape(obs.shape[0], 1)
    return bool(~(border.sum() >= 4))


def at_goal(obs):
    """Some 8x8 tile contains both the goal's green and the agent's red."""
    red, green, blue = planes(obs)
    goal = (green >= 200) & (red <= 120) & (blue <= 120)
    agent = (red >= 200) & (green <= 120) & (blue <= 120)
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    goal_tiles = goal.reshape(rows, TILE, cols, TILE).any(axis=3).any(axis=1)
    agent_tiles = agent.reshape(rows, TILE, cols, TILE).any(axis=3).any(axis=1)
    return bool((goal_tiles & agent_tiles).any())
