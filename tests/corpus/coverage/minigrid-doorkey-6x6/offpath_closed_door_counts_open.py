# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- a door that was unlocked and closed again counts as open.
"""DoorKey: the door is open once its dark-yellow locked fill is gone."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    r = obs[:, :, 0].astype(np.int32)
    g = obs[:, :, 1].astype(np.int32)
    b = obs[:, :, 2].astype(np.int32)
    return np.count_nonzero((r == 255) & (g == 255) & (b <= 76)) == 0


def door_open(obs):
    # Locked door interior: (114, 114, 0), or (155, 155, 76) when lit by the agent's view.
    centre = obs[2::TILE, 2::TILE, :].astype(np.int32)
    dark_fill = (centre[:, :, 0] == centre[:, :, 1]) & (centre[:, :, 0] > 100) & (centre[:, :, 0] < 170) \
        & (centre[:, :, 2] < 100)
    return not bool(dark_fill.any())


def at_goal(obs):
    corner = obs[7::TILE, 7::TILE, :].astype(np.int32)
    centre = obs[4::TILE, 4::TILE, :].astype(np.int32)
    green = (corner[:, :, 1] > 200) & (corner[:, :, 0] < 100)
    red = (centre[:, :, 0] > 200) & (centre[:, :, 1] < 100)
    return bool((green & red).any())
