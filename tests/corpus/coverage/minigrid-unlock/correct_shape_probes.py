# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- vectorised probes of every tile, shapes rather than colours.
"""Unlock: the key and the open door are found by shape, whatever their colour."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8


def at(obs, row, col):
    """Pixel (row, col) of every tile as int32, shape (tiles_y, tiles_x, 3)."""
    return obs[row::TILE, col::TILE, :].astype(np.int32)


def equal(a, b):
    return (a[:, :, 0] == b[:, :, 0]) & (a[:, :, 1] == b[:, :, 1]) & (a[:, :, 2] == b[:, :, 2])


def is_floor(p):
    grey = (p[:, :, 0] == p[:, :, 1]) & (p[:, :, 1] == p[:, :, 2])
    return grey & ((p[:, :, 0] == 0) | (p[:, :, 0] == 76))


def has_key(obs):
    # Key: a shaft down column 4 (rows 3-6), a ring at row 2 with a darker hole in the
    # middle, floor to the right of the shaft and below it.
    shaft = at(obs, 4, 4)
    body = equal(at(obs, 3, 4), shaft) & equal(at(obs, 5, 4), shaft) & equal(at(obs, 6, 4), shaft)
    ring = equal(at(obs, 2, 3), shaft) & equal(at(obs, 2, 5), shaft) & ~equal(at(obs, 2, 4), shaft)
    around = is_floor(at(obs, 4, 6)) & is_floor(at(obs, 7, 4))
    key = body & ring & around & ~is_floor(shaft)
    return not bool(key.any())


def door_open(obs):
    # Open: a bar down the right edge of the tile, and floor along its bottom row.
    bar = at(obs, 4, 7)
    straight = equal(at(obs, 2, 7), bar) & equal(at(obs, 5, 7), bar) & ~is_floor(bar)
    return bool((straight & is_floor(at(obs, 7, 3)) & is_floor(at(obs, 4, 3))).any())
