"""Style: locating things with ``np.where``, ``np.nonzero`` and ``argmax``.

Instead of counting pixels globally, the checks find *where* objects are: the agent's
tile from the coordinates of its red pixels, the goal's tile from its green pixels,
and the most door-like tile edge with ``argmax``.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    """``np.where`` finds no (or almost no) key-yellow pixels."""
    rgb = obs.astype(np.int32)
    ys, xs = np.where((rgb[:, :, 0] >= 230) & (rgb[:, :, 1] >= 230) & (rgb[:, :, 2] <= 120))
    return bool(ys.size < 4)


def door_open(obs):
    """The most door-like tile bottom edge (``argmax`` of the yellow counts) is weak."""
    rgb = obs.astype(np.int32)
    yellow = np.where((rgb[:, :, 0] >= 150) & (rgb[:, :, 1] >= 150)
                      & (rgb[:, :, 2] + 60 <= rgb[:, :, 0]), 1, 0)
    edges = yellow[TILE - 1::TILE, :]
    per_tile = edges.reshape(edges.shape[0], edges.shape[1] // TILE, TILE)[:, :, 0:TILE - 2].sum(axis=2)
    flat = per_tile.reshape(-1)
    best = flat.argmax()
    return bool(flat[best] < 3)


def at_goal(obs):
    """The agent's tile (centre of its red pixels) is the goal's tile."""
    rgb = obs.astype(np.int32)
    agent = (rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120)
    goal = (rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120)
    ay, ax = np.nonzero(agent)
    gy, gx = np.nonzero(goal)
    if ay.size == 0 or gy.size == 0:
        return False
    agent_tile_y = int(ay.mean()) // TILE
    agent_tile_x = int(ax.mean()) // TILE
    goal_tile_y = int(gy.min()) // TILE
    goal_tile_x = int(gx.min()) // TILE
    return agent_tile_y == goal_tile_y and agent_tile_x == goal_tile_x
