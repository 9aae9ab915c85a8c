"""Style: reshape the frame into a 5x5 grid of 8x8 tiles and classify tiles.

``obs.reshape(5, 8, 5, 8, 3)`` gives axes (tile row, pixel row, tile column,
pixel column, channel); per-tile statistics then come from reductions over axes 1
and 3.  The grid size is fixed for DoorKey-5x5.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def tiles(obs):
    """The frame as int32 tiles with shape (5, 8, 5, 8, 3)."""
    return obs.reshape(5, 8, 5, 8, 3).astype(np.int32)


def tile_count(mask):
    """Per-tile pixel count of a (5, 8, 5, 8) mask, shape (5, 5)."""
    return mask.sum(axis=3).sum(axis=1)


def has_key(obs):
    """No tile contains several saturated key-yellow pixels."""
    t = tiles(obs)
    key = (t[:, :, :, :, 0] >= 230) & (t[:, :, :, :, 1] >= 230) & (t[:, :, :, :, 2] <= 120)
    return bool(tile_count(key).max() < 4)


def door_open(obs):
    """No tile has a yellow bottom row (pixel row 7, columns 0-5) like a closed door."""
    t = tiles(obs)
    bottom = t[:, 7, :, 0:6, :]
    yellow = (bottom[:, :, :, 0] >= 150) & (bottom[:, :, :, 1] >= 150) & (bottom[:, :, :, 2] + 60 <= bottom[:, :, :, 0])
    return bool(yellow.sum(axis=2).max() < 3)


def at_goal(obs):
    """The tile that holds goal green also holds the agent's red."""
    t = tiles(obs)
    green = (t[:, :, :, :, 1] >= 200) & (t[:, :, :, :, 0] <= 120) & (t[:, :, :, :, 2] <= 120)
    red = (t[:, :, :, :, 0] >= 200) & (t[:, :, :, :, 1] <= 120) & (t[:, :, :, :, 2] <= 120)
    return bool(((tile_count(green) > 0) & (tile_count(red) > 0)).any())
