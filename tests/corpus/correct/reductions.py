"""Style: array reductions ``.sum() .any() .all() .max() .min() .mean()``.

Each check reduces masks or colour planes with array methods rather than numpy
functions.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    """The brightest yellow pixel (min of red and green where blue is low) is not key-bright."""
    rgb = obs.astype(np.int32)
    yellow_strength = np.minimum(rgb[:, :, 0], rgb[:, :, 1]) - rgb[:, :, 2]
    key_like = (yellow_strength >= 130) & (rgb[:, :, 0] >= 230) & (rgb[:, :, 1] >= 230)
    return bool(key_like.sum() < 4 or yellow_strength.max() < 130)


def door_open(obs):
    """Every tile's bottom edge is mostly non-yellow (mean of the yellow mask is low)."""
    rgb = obs.astype(np.int32)
    edges = rgb[TILE - 1::TILE]
    yellow = (edges[:, :, 0] >= 150) & (edges[:, :, 1] >= 150) & (edges[:, :, 2] + 60 <= edges[:, :, 0])
    per_tile = yellow.reshape(yellow.shape[0], yellow.shape[1] // TILE, TILE)[:, :, 0:TILE - 2]
    return bool((per_tile.mean(axis=2) < 0.5).all())


def at_goal(obs):
    """Some tile's green mask and red mask are both non-empty."""
    rgb = obs.astype(np.int32)
    green = (rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120)
    red = (rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120)
    if not green.any() or not red.any():
        return False
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    g_tiles = green.reshape(rows, TILE, cols, TILE).max(axis=3).max(axis=1)
    r_tiles = red.reshape(rows, TILE, cols, TILE).max(axis=3).max(axis=1)
    return bool((g_tiles & r_tiles).any() and g_tiles.min() >= 0)
