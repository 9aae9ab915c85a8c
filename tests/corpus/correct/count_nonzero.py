"""Style: thresholds on ``np.count_nonzero`` of simple per-channel conditions.

Every decision is "how many pixels satisfy this colour rule", with one
``count_nonzero`` per rule and small integer thresholds.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    """The key's bright yellow pixels have disappeared."""
    r = obs[:, :, 0]
    g = obs[:, :, 1]
    b = obs[:, :, 2]
    return np.count_nonzero((r >= 230) & (g >= 230) & (b <= 120)) < 4


def door_open(obs):
    """Locked doors show a yellow fill, closed doors a yellow frame; count both."""
    rgb = obs.astype(np.int32)
    yellowish = (rgb[:, :, 0] >= 100) & (rgb[:, :, 0] == rgb[:, :, 1]) & (rgb[:, :, 2] + 60 <= rgb[:, :, 0])
    frame_rows = yellowish[TILE - 1::TILE, :]
    columns = np.arange(obs.shape[1]) % TILE
    frame = frame_rows[:, columns < TILE - 2]
    return np.count_nonzero(frame) < 3


def at_goal(obs):
    """The goal is partly covered (fewer than 64 green pixels) while the agent is visible."""
    rgb = obs.astype(np.int32)
    green = np.count_nonzero((rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120))
    red = np.count_nonzero((rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120))
    return 0 < green < TILE * TILE and red > 0
