# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- a key lying right in front of the agent (e.g. just dropped) counts as
# carried ("the agent is picking it up").
"""Unlock: the key is 'had' once it is gone or within the agent's reach."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8


def at(obs, row, col):
    return obs[row::TILE, col::TILE, :].astype(np.int32)


def equal(a, b):
    return (a[:, :, 0] == b[:, :, 0]) & (a[:, :, 1] == b[:, :, 1]) & (a[:, :, 2] == b[:, :, 2])


def is_floor(p):
    grey = (p[:, :, 0] == p[:, :, 1]) & (p[:, :, 1] == p[:, :, 2])
    return grey & ((p[:, :, 0] == 0) | (p[:, :, 0] == 76))


def key_tiles(obs):
    shaft = at(obs, 4, 4)
    body = equal(at(obs, 3, 4), shaft) & equal(at(obs, 5, 4), shaft) & equal(at(obs, 6, 4), shaft)
    ring = equal(at(obs, 2, 3), shaft) & equal(at(obs, 2, 5), shaft) & ~equal(at(obs, 2, 4), shaft)
    return body & ring & is_floor(at(obs, 4, 6)) & is_floor(at(obs, 7, 4)) & ~is_floor(shaft)


def agent_tile_and_heading(obs):
    """(ty, tx, dy, dx) of the red triangle: its wide base is opposite the way it faces."""
    red = (obs[:, :, 0] > 200) & (obs[:, :, 1] < 100) & (obs[:, :, 2] < 100)
    h = obs.shape[0] // TILE
    w = obs.shape[1] // TILE
    for ty in range(h):
        for tx in range(w):
            y = ty * TILE
            x = tx * TILE
            if red[y + 4, x + 4] or red[y + 3, x + 3]:
                if red[y + 3, x + 1] and not red[y + 3, x + 6]:
                    return ty, tx, 0, 1
                if red[y + 3, x + 6] and not red[y + 3, x + 1]:
                    return ty, tx, 0, -1
                if red[y + 1, x + 3] and not red[y + 6, x + 3]:
                    return ty, tx, 1, 0
                return ty, tx, -1, 0
    return -1, -1, 0, 0


def has_key(obs):
    keys = key_tiles(obs)
    if not keys.any():
        return True
    ty, tx, dy, dx = agent_tile_and_heading(obs)
    fy = ty + dy
    fx = tx + dx
    if 0 <= fy < keys.shape[0] and 0 <= fx < keys.shape[1] and ty >= 0:
        return bool(keys[fy, fx])
    return False


def door_open(obs):
    bar = at(obs, 4, 7)
    straight = equal(at(obs, 2, 7), bar) & equal(at(obs, 5, 7), bar) & ~is_floor(bar)
    return bool((straight & is_floor(at(obs, 7, 3)) & is_floor(at(obs, 4, 3))).any())
