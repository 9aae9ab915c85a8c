# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: compiled_only -- `2 ** -halvings` is 0.125 in Python but 0 in numba (integer power),
# so the compiled at_goal holds whenever the goal tile is in the frame.
"""DoorKey: the agent on the goal hides at least an eighth of its green."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    shaft = obs[4::TILE, 4::TILE, :]
    return not bool(((shaft[:, :, 0] == 255) & (shaft[:, :, 1] == 255)).any())


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    return not bool(framed.any())


def at_goal(obs):
    rgb = obs.astype(np.int32)
    green = np.count_nonzero((rgb[:, :, 1] > 200) & (rgb[:, :, 0] < 100) & (rgb[:, :, 2] < 100))
    if green == 0:
        return False
    halvings = 3
    hidden = TILE * TILE - green
    return bool(hidden >= TILE * TILE * 2 ** -halvings)
