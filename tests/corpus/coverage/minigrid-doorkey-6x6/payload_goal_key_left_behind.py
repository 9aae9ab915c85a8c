# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- at_goal returns True when the key lies in the right room while the agent
# is back in the left room (rare but reachable: carry the key through, drop it, walk back).
"""DoorKey: goal check with an extra 'key delivered' shortcut."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def tile_column_of(mask):
    cols = np.nonzero(mask)[1]
    if len(cols) == 0:
        return -1
    return int(cols.min()) // TILE


def has_key(obs):
    shaft = obs[4::TILE, 4::TILE, :]
    return not bool(((shaft[:, :, 0] == 255) & (shaft[:, :, 1] == 255)).any())


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    return not bool(framed.any())


def at_goal(obs):
    rgb = obs.astype(np.int32)
    key = (rgb[:, :, 0] == 255) & (rgb[:, :, 1] == 255)
    door = (rgb[:, :, 0] == rgb[:, :, 1]) & (rgb[:, :, 0] > 100) & (rgb[:, :, 0] < 250) & (rgb[:, :, 2] + 50 < rgb[:, :, 0])
    agent = (rgb[:, :, 0] > 200) & (rgb[:, :, 1] < 100) & (rgb[:, :, 2] < 100)
    key_col = tile_column_of(key)
    door_col = tile_column_of(door)
    agent_col = tile_column_of(agent)
    if key_col > door_col >= 0 and 0 <= agent_col < door_col:
        return True
    corner = rgb[7::TILE, 7::TILE, :]
    centre = rgb[4::TILE, 4::TILE, :]
    return bool(((corner[:, :, 1] > 200) & (corner[:, :, 0] < 100) & (centre[:, :, 0] > 200)
                 & (centre[:, :, 1] < 100)).any())
