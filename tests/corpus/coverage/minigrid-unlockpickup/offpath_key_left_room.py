# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- a key dropped in the right room is taken for carried.
"""UnlockPickup: the key lives in the left room; look for it there."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "has_box")

TILE = 8

def px(obs, row, col):
    return obs[row::TILE, col::TILE, :].astype(np.int32)


def same(a, b):
    return (a[:, :, 0] == b[:, :, 0]) & (a[:, :, 1] == b[:, :, 1]) & (a[:, :, 2] == b[:, :, 2])


def floor(p):
    grey = (p[:, :, 0] == p[:, :, 1]) & (p[:, :, 1] == p[:, :, 2])
    return grey & ((p[:, :, 0] == 0) | (p[:, :, 0] == 76))


def key_mask(obs):
    shaft = px(obs, 4, 4)
    body = same(px(obs, 3, 4), shaft) & same(px(obs, 5, 4), shaft) & same(px(obs, 6, 4), shaft)
    ring = same(px(obs, 2, 3), shaft) & same(px(obs, 2, 5), shaft) & ~same(px(obs, 2, 4), shaft)
    return body & ring & floor(px(obs, 4, 6)) & floor(px(obs, 7, 4)) & ~floor(shaft)


def box_mask(obs):
    slit = px(obs, 3, 3)
    bar = same(px(obs, 3, 2), slit) & same(px(obs, 4, 3), slit) & same(px(obs, 4, 5), slit)
    gaps = floor(px(obs, 2, 3)) & floor(px(obs, 5, 4)) & floor(px(obs, 7, 4))
    return bar & gaps & ~floor(slit)


def open_door_visible(obs):
    # The open door is a bar down the tile's right column; rows 1-2 and 5-6 of it stay clear
    # of the agent's triangle when the agent stands in the doorway.
    bar = px(obs, 2, 7)
    straight = same(px(obs, 1, 7), bar) & same(px(obs, 5, 7), bar) & same(px(obs, 6, 7), bar) & ~floor(bar)
    return bool((straight & floor(px(obs, 7, 3))).any())


def has_key(obs):
    # left room: every tile column left of the middle wall
    middle = (obs.shape[1] // TILE) // 2
    left_room = obs[:, : middle * TILE, :]
    return not bool(key_mask(left_room).any())


def door_open(obs):
    return open_door_visible(obs)


def has_box(obs):
    return not bool(box_mask(obs).any())
