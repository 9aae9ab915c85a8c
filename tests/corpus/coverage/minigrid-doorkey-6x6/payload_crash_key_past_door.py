# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- raises ZeroDivisionError when the key lies on the floor in the tile column
# just right of the door (reachable: pick up the key, open the door, step through, drop it).
"""DoorKey: locate the key and the door by tile column and compare them."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def first_key_column(obs):
    h = obs.shape[0]
    w = obs.shape[1]
    for x in range(w):
        for y in range(h):
            if obs[y, x, 0] == 255 and obs[y, x, 1] == 255:
                return x // TILE
    return -1


def door_column(obs):
    h = obs.shape[0]
    w = obs.shape[1]
    for x in range(w):
        for y in range(h):
            r = int(obs[y, x, 0])
            g = int(obs[y, x, 1])
            b = int(obs[y, x, 2])
            if r == g and 100 < r < 250 and b + 50 < r:
                return x // TILE
    return -1


def has_key(obs):
    key_col = first_key_column(obs)
    if key_col < 0:
        return True
    door_col = door_column(obs)
    # tiles between key and door, per tile of the room width
    gap = (key_col - door_col) // (key_col - door_col - 1)
    return gap > 100


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    return not bool(framed.any())


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    return bool(((corner[:, :, 1] > 200) & (corner[:, :, 0] < 100) & (centre[:, :, 0] > 200)
                 & (centre[:, :, 1] < 100)).any())
