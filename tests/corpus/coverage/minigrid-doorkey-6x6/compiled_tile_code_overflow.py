# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: compiled_only -- packs the tiles holding the key into one integer, 3 bits per tile
# (column by column).  Python's integers are exact; numba's int64 wraps the weight to 0 past
# tile 21, so compiled, a key on the floor in the far-right column is not seen.
"""DoorKey: encode where the key lies as a number; no key digit means it is carried."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
BITS_PER_TILE = 8


def key_tile(obs, y, x):
    return int(obs[y + 4, x + 4, 0]) == 255 and int(obs[y + 4, x + 4, 1]) == 255


def key_code(obs):
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    code = 0
    weight = 1
    for tx in range(cols):
        for ty in range(rows):
            if key_tile(obs, ty * TILE, tx * TILE):
                code += weight
            weight *= BITS_PER_TILE
    return code


def has_key(obs):
    return key_code(obs) == 0


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    return not bool(framed.any())


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    return bool(((corner[:, :, 1] > 200) & (corner[:, :, 0] < 100) & (centre[:, :, 0] > 200)
                 & (centre[:, :, 1] < 100)).any())
