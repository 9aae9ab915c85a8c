"""Known bad: hard-codes the 6x6 grid (a 48x48 frame), so any other frame size raises."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

GRID_H = 6
GRID_W = 6


def probe(obs, row, col):
    # Assumes the shape instead of reading obs.shape: reshape fails on any other size.
    tiles = obs.reshape(GRID_H, 8, GRID_W, 8, 3)
    return tiles[:, row, :, col, :].astype(np.int32)


def has_key(obs):
    p = probe(obs, 4, 4)
    return not bool(((p[:, :, 0] >= 230) & (p[:, :, 1] >= 230) & (p[:, :, 2] <= 100)).any())


def door_open(obs):
    bar = probe(obs, 4, 7)
    floor = probe(obs, 7, 3)
    yellow = (bar[:, :, 0] >= 150) & (bar[:, :, 1] >= 150) & (bar[:, :, 2] <= 100)
    plain = (floor[:, :, 0] == floor[:, :, 1]) & (floor[:, :, 1] == floor[:, :, 2])
    return bool((yellow & plain).any())


def at_goal(obs):
    corner = probe(obs, 7, 7)
    centre = probe(obs, 4, 4)
    green = (corner[:, :, 1] >= 200) & (corner[:, :, 0] <= 100) & (corner[:, :, 2] <= 100)
    red = (centre[:, :, 0] >= 200) & (centre[:, :, 1] <= 100) & (centre[:, :, 2] <= 100)
    return bool((green & red).any())
