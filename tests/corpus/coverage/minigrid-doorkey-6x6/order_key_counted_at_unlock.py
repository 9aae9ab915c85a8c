# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: order -- has_key only holds once the door is unlocked, so it completes on the same
# frame as door_open.
"""DoorKey: 'has the key' means the key is gone and has been used on the door."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def key_visible(obs):
    shaft = obs[4::TILE, 4::TILE, :]
    return bool(((shaft[:, :, 0] == 255) & (shaft[:, :, 1] == 255)).any())


def door_framed(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    return bool(((edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])).any())


def has_key(obs):
    if key_visible(obs):
        return False
    return not door_framed(obs)


def door_open(obs):
    return not door_framed(obs)


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    return bool(((corner[:, :, 1] > 200) & (corner[:, :, 0] < 100) & (centre[:, :, 0] > 200)
                 & (centre[:, :, 1] < 100)).any())
