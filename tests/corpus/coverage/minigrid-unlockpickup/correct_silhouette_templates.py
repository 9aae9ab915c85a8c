# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- every tile's silhouette (not-floor pixels) compared with templates,
# vectorised with a reshape into (tiles_y, 8, tiles_x, 8).
"""UnlockPickup: template matching of silhouettes for key, box and open door."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "has_box")

TILE = 8
KEY_TEMPLATE = np.array([
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 1, 0, 0],
    [0, 0, 1, 1, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0],
])
BOX_TEMPLATE = np.array([
    [1, 1, 1, 1, 1, 1, 0],
    [1, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 1, 1, 1, 0],
    [1, 1, 1, 1, 1, 1, 0],
    [1, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 0, 0, 0],
])


def silhouettes(obs):
    """(tiles_y, tiles_x, 7, 7) int array: 1 where a tile pixel is not plain floor."""
    r = obs[:, :, 0].astype(np.int32)
    g = obs[:, :, 1].astype(np.int32)
    b = obs[:, :, 2].astype(np.int32)
    floor = (r == g) & (g == b) & ((r == 0) | (r == 76))
    drawn = np.where(floor, 0, 1)
    ty = obs.shape[0] // TILE
    tx = obs.shape[1] // TILE
    tiles = drawn.reshape(ty, TILE, tx, TILE).transpose(0, 2, 1, 3)
    return tiles[:, :, 1:, 1:]


def matches(obs, template):
    diff = np.abs(silhouettes(obs) - template).sum(axis=3).sum(axis=2)
    return int(np.count_nonzero(diff == 0))


def has_key(obs):
    return matches(obs, KEY_TEMPLATE) == 0


def door_open(obs):
    # The open door is a bar down the right edge over a floor-coloured bottom row; the
    # agent may stand in the doorway, so the rest of the tile is not compared.
    tiles = silhouettes(obs)
    bar = tiles[:, :, :, 6].sum(axis=2) == 7
    bottom = tiles[:, :, 6, :6].sum(axis=2) == 0
    return bool((bar & bottom).any())


def has_box(obs):
    return matches(obs, BOX_TEMPLATE) == 0
