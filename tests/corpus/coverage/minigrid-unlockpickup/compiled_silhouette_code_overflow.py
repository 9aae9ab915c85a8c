# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: compiled_only -- each tile's silhouette packed into one integer, 64 bits (grid line
# included).  Python's integers are exact; numba's int64 wraps past bit 63, so compiled the
# box signature never matches and has_box holds while the box is still on the floor.
"""UnlockPickup: recognise the box by its silhouette code."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "has_box")

TILE = 8
MODULUS = 1000003
BOX_SIGNATURE = 248471   # silhouette code of a box tile, modulo MODULUS

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


def silhouette_code(obs, y, x):
    code = 0
    for row in range(TILE):
        for col in range(TILE):
            r = int(obs[y + row, x + col, 0])
            g = int(obs[y + row, x + col, 1])
            b = int(obs[y + row, x + col, 2])
            is_floor = r == g and g == b and (r == 0 or r == 76)
            code = code * 2 + (0 if is_floor else 1)
    return code


def has_key(obs):
    return not bool(key_mask(obs).any())


def door_open(obs):
    return open_door_visible(obs)


def has_box(obs):
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            slit = obs[y + 3, x + 3]
            hollow = obs[y + 2, x + 3]
            if int(slit[0]) + int(slit[1]) + int(slit[2]) == 0 or int(hollow[0]) not in (0, 76):
                continue    # not drawn where the slit is, or drawn where the box is hollow
            if silhouette_code(obs, y, x) % MODULUS == BOX_SIGNATURE:
                return False
    return True
