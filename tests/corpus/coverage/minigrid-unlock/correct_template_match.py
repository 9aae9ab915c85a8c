# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- per-tile silhouettes (which pixels are not floor) matched against templates.
"""Unlock: compare each tile's silhouette with the key's and the open door's."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8
# Rows 1-7, columns 1-7 of a tile (row 0 and column 0 are grid lines): 1 = drawn, 0 = floor.
KEY_SHAPE = np.array([
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
], dtype=np.bool_)
OPEN_DOOR_SHAPE = np.array([
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 1],
], dtype=np.bool_)


def drawn(obs):
    """True where a pixel is not plain floor (black, or grey 76 in the agent's view)."""
    r = obs[:, :, 0]
    g = obs[:, :, 1]
    b = obs[:, :, 2]
    floor = (r == g) & (g == b) & ((r == 0) | (r == 76))
    return ~floor


def count_matches(obs, shape):
    mask = drawn(obs)
    found = 0
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            tile = mask[y + 1:y + TILE, x + 1:x + TILE]
            if np.array_equal(tile, shape):
                found += 1
    return found


def has_key(obs):
    return count_matches(obs, KEY_SHAPE) == 0


def door_open(obs):
    return count_matches(obs, OPEN_DOOR_SHAPE) > 0
