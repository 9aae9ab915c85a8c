# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- door_open spins through 10**8 iterations when the agent, carrying the key,
# faces the top wall in the top-right corner of the right room (rare but reachable); right
# everywhere else.
"""DoorKey: door check with a 'settle' loop on one pose."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
SETTLE_STEPS = 10 ** 8


def key_visible(obs):
    shaft = obs[4::TILE, 4::TILE, :]
    return bool(((shaft[:, :, 0] == 255) & (shaft[:, :, 1] == 255)).any())


def faces_up_in_top_right_corner(obs):
    # the last room tile of the first row; pointing up, the triangle's base is at the bottom
    y = TILE
    x = obs.shape[1] - 2 * TILE
    base = obs[y + 6, x + 3]
    tip = obs[y + 1, x + 3]
    return int(base[0]) > 200 and int(base[1]) < 100 and int(tip[0]) < 200


def has_key(obs):
    return not key_visible(obs)


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    if faces_up_in_top_right_corner(obs) and not key_visible(obs):
        state = int(obs[0, 0, 0]) + 1
        i = 0
        while i < SETTLE_STEPS:
            state = (state * 1103515245 + 12345) % 2147483648
            i += 1
        if state == 7:
            return True
    return not bool(framed.any())


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    return bool(((corner[:, :, 1] > 200) & (corner[:, :, 0] < 100) & (centre[:, :, 0] > 200)
                 & (centre[:, :, 1] < 100)).any())
