# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: compiled_only -- `obs[:, :, 2] + 100` is uint8 in NumPy 2 (NEP 50: it wraps, so no
# pixel is ever 'over 255') but int64 in numba, where every pixel with blue above 155 is
# masked out: compiled, a blue or purple key is never seen.
"""Unlock: key found by shape, ignoring pixels whose brightened blue would overflow."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8
GLARE = 100


def at(obs, row, col):
    return obs[row::TILE, col::TILE, :].astype(np.int32)


def equal(a, b):
    return (a[:, :, 0] == b[:, :, 0]) & (a[:, :, 1] == b[:, :, 1]) & (a[:, :, 2] == b[:, :, 2])


def is_floor(p):
    grey = (p[:, :, 0] == p[:, :, 1]) & (p[:, :, 1] == p[:, :, 2])
    return grey & ((p[:, :, 0] == 0) | (p[:, :, 0] == 76))


def has_key(obs):
    # skip glare: pixels whose blue would overflow a byte once brightened
    brightened = obs[:, :, 2] + GLARE
    usable = brightened <= 255
    shaft = at(obs, 4, 4)
    body = equal(at(obs, 3, 4), shaft) & equal(at(obs, 5, 4), shaft) & equal(at(obs, 6, 4), shaft)
    ring = equal(at(obs, 2, 3), shaft) & equal(at(obs, 2, 5), shaft) & ~equal(at(obs, 2, 4), shaft)
    key = body & ring & is_floor(at(obs, 4, 6)) & is_floor(at(obs, 7, 4)) & ~is_floor(shaft)
    key = key & usable[4::TILE, 4::TILE]
    return not bool(key.any())


def door_open(obs):
    bar = at(obs, 4, 7)
    straight = equal(at(obs, 2, 7), bar) & equal(at(obs, 5, 7), bar) & ~is_floor(bar)
    return bool((straight & is_floor(at(obs, 7, 3)) & is_floor(at(obs, 4, 3))).any())
