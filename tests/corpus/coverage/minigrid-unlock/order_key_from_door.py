# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: order -- has_key is written as 'the key has been used': it completes on the same
# frame as door_open.
"""Unlock: the agent has (used) the key once the door shows open."""
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


def open_door_visible(obs):
    bar = at(obs, 4, 7)
    straight = equal(at(obs, 2, 7), bar) & equal(at(obs, 5, 7), bar) & ~is_floor(bar)
    return bool((straight & is_floor(at(obs, 7, 3)) & is_floor(at(obs, 4, 3))).any())


def has_key(obs):
    return open_door_visible(obs)


def door_open(obs):
    return open_door_visible(obs)
