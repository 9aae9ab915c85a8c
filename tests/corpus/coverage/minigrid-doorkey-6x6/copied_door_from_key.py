# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: copied -- door_open reuses the key test, so it fires as soon as the key is picked up.
"""DoorKey: bright yellow disappears from the frame once the door is dealt with."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def bright_yellow_pixels(obs):
    r = obs[:, :, 0].astype(np.int32)
    g = obs[:, :, 1].astype(np.int32)
    b = obs[:, :, 2].astype(np.int32)
    return int(np.count_nonzero((r > 220) & (g > 220) & (b < 100)))


def has_key(obs):
    return bright_yellow_pixels(obs) == 0


def door_open(obs):
    # Once the door is unlocked there is no bright yellow left in the room.
    return bright_yellow_pixels(obs) == 0


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    green = (corner[:, :, 1] > 200) & (corner[:, :, 0] < 100)
    red = (centre[:, :, 0] > 200) & (centre[:, :, 1] < 100)
    return bool((green & red).any())
