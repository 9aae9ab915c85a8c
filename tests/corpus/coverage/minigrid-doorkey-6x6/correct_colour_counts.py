# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- colour masks over the whole frame, counted with np.count_nonzero.
"""DoorKey: count pixels of each object's colour; thresholds sit far from every boundary."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
FULL_TILE = TILE * TILE


def channels(obs):
    rgb = obs.astype(np.int32)
    return rgb[:, :, 0], rgb[:, :, 1], rgb[:, :, 2]


def has_key(obs):
    # Pure key yellow: red and green saturated, blue 0 (or 76 where the view lightens it).
    r, g, b = channels(obs)
    key_pixels = np.count_nonzero((r == 255) & (g == 255) & (b <= 76))
    return key_pixels == 0


def door_open(obs):
    # Locked or closed, the door's frame runs along the top row of its tile (8 yellow
    # pixels there); the open door's bar touches the top row in one pixel only.
    r, g, b = channels(obs)
    yellow = (r > 100) & (g > 100) & (b + 50 < r)
    top_rows = yellow[0::TILE, :]
    return int(np.count_nonzero(top_rows)) < 4


def at_goal(obs):
    # The goal is a full tile of green; the agent standing on it hides part of it.
    r, g, b = channels(obs)
    green = np.count_nonzero((g > 200) & (r < 100) & (b < 100))
    red = np.count_nonzero((r > 200) & (g < 100) & (b < 100))
    return bool(0 < green < FULL_TILE and red > 0)
