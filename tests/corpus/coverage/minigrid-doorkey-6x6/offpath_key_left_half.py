# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- a key dropped in the right room is treated as carried.
"""DoorKey: the key starts in the left room, so the check only looks at the left half."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def is_key_yellow(region):
    return (region[:, :, 0] == 255) & (region[:, :, 1] == 255) & (region[:, :, 2] <= 76)


def has_key(obs):
    # The agent starts in the left room with the key; the right room only holds the goal.
    left_half = obs[:, : obs.shape[1] // 2, :]
    return not bool(is_key_yellow(left_half).any())


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    return not bool(framed.any())


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    green = (corner[:, :, 1] > 200) & (corner[:, :, 0] < 100)
    red = (centre[:, :, 0] > 200) & (centre[:, :, 1] < 100)
    return bool((green & red).any())
