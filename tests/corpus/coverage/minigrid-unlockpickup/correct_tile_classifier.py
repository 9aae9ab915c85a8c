# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- one classifier per tile returning a kind code, loops and early returns.
"""UnlockPickup: classify every tile (floor, key, box, open door, other) and count kinds."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "has_box")

TILE = 8
OTHER = 0
KEY = 1
BOX = 2
OPEN_DOOR = 3


def is_floor(obs, y, x):
    r = int(obs[y, x, 0])
    return r == int(obs[y, x, 1]) and r == int(obs[y, x, 2]) and (r == 0 or r == 76)


def same(obs, y0, x0, y1, x1):
    return (int(obs[y0, x0, 0]) == int(obs[y1, x1, 0]) and int(obs[y0, x0, 1]) == int(obs[y1, x1, 1])
            and int(obs[y0, x0, 2]) == int(obs[y1, x1, 2]))


def classify(obs, y, x):
    # Open door: a bar down the right column (rows 1-2 and 5-6 stay clear of an agent standing
    # in the doorway) over a floor-coloured bottom row.
    if (not is_floor(obs, y + 2, x + 7)) and same(obs, y + 1, x + 7, y + 2, x + 7) \
            and same(obs, y + 5, x + 7, y + 2, x + 7) and same(obs, y + 6, x + 7, y + 2, x + 7) \
            and is_floor(obs, y + 7, x + 3):
        return OPEN_DOOR
    if not is_floor(obs, y + 4, x + 4):
        shaft = same(obs, y + 3, x + 4, y + 4, x + 4) and same(obs, y + 6, x + 4, y + 4, x + 4)
        ring = same(obs, y + 2, x + 3, y + 4, x + 4) and same(obs, y + 2, x + 5, y + 4, x + 4)
        if shaft and ring and not same(obs, y + 2, x + 4, y + 4, x + 4) and is_floor(obs, y + 4, x + 6):
            return KEY
    if not is_floor(obs, y + 3, x + 3):
        slit = same(obs, y + 3, x + 2, y + 3, x + 3) and same(obs, y + 4, x + 5, y + 3, x + 3)
        hollow = is_floor(obs, y + 2, x + 3) and is_floor(obs, y + 5, x + 4)
        if slit and hollow and is_floor(obs, y + 7, x + 4):
            return BOX
    return OTHER


def count_kind(obs, kind):
    n = 0
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            if classify(obs, y, x) == kind:
                n += 1
    return n


def has_key(obs):
    return count_kind(obs, KEY) == 0


def door_open(obs):
    return count_kind(obs, OPEN_DOOR) > 0


def has_box(obs):
    return count_kind(obs, BOX) == 0
