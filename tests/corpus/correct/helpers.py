"""Style: many small helper functions composed by the sub-task checks.

Colour classification, tile extraction and counting each live in their own helper;
the three sub-task functions are one-liners on top of them.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def as_int(obs):
    """Widen the frame to int32 so sums and differences cannot overflow."""
    return obs.astype(np.int32)


def is_key_yellow(rgb):
    """Mask of pixels with the key's saturated yellow."""
    return (rgb[:, :, 0] >= 230) & (rgb[:, :, 1] >= 230) & (rgb[:, :, 2] <= 120)


def is_door_yellow(rgb):
    """Mask of the duller yellow used for door frames (and the key)."""
    return (rgb[:, :, 0] >= 150) & (rgb[:, :, 1] >= 150) & (rgb[:, :, 2] + 60 <= rgb[:, :, 0])


def is_goal_green(rgb):
    """Mask of the goal's green (plain or highlighted)."""
    return (rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120)


def is_agent_red(rgb):
    """Mask of the agent triangle's red (plain or highlighted)."""
    return (rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120)


def tile_counts(mask):
    """Number of True pixels in each 8x8 tile, as a (rows, cols) array."""
    rows = mask.shape[0] // TILE
    cols = mask.shape[1] // TILE
    return mask.reshape(rows, TILE, cols, TILE).sum(axis=3).sum(axis=1)


def bottom_edges(mask):
    """The bottom pixel row of every tile, without each tile's last two columns."""
    edge = mask[TILE - 1::TILE, :]
    return edge.reshape(edge.shape[0], edge.shape[1] // TILE, TILE)[:, :, 0:TILE - 2]


def has_key(obs):
    """The key is gone from the floor."""
    return bool(np.count_nonzero(is_key_yellow(as_int(obs))) < 4)


def door_open(obs):
    """No door-coloured bottom frame remains (open doors only keep a side strip)."""
    return bool(np.count_nonzero(bottom_edges(is_door_yellow(as_int(obs)))) < 3)


def at_goal(obs):
    """The agent is drawn on the goal tile."""
    rgb = as_int(obs)
    both = (tile_counts(is_goal_green(rgb)) > 0) & (tile_counts(is_agent_red(rgb)) > 0)
    return bool(both.any())
