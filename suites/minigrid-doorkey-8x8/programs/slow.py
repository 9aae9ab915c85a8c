"""Known bad: right on real frames, but its goal check scans pixels in pure Python and
slows to seconds per call on unusual frames (noise, a flat bright colour)."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
REPEAT = 10000


def probe(obs, row, col):
    h = obs.shape[0] // TILE
    w = obs.shape[1] // TILE
    return obs[row:h * TILE:TILE, col:w * TILE:TILE, :]


def busy(obs):
    # A careless scan doing REPEAT steps of work per bright pixel: cheap on real frames
    # (only the key's dozen pixels are that bright), seconds on noise or a flat bright frame.
    total = 0
    for y in range(obs.shape[0]):
        for x in range(obs.shape[1]):
            if int(obs[y, x, 0]) + int(obs[y, x, 1]) + int(obs[y, x, 2]) >= 500:
                for k in range(REPEAT):
                    total += k
    return total


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
    if busy(obs) < 0:
        return False
    corner = probe(obs, 7, 7)
    centre = probe(obs, 4, 4)
    green = (corner[:, :, 1] >= 200) & (corner[:, :, 0] <= 100) & (corner[:, :, 2] <= 100)
    red = (centre[:, :, 0] >= 200) & (centre[:, :, 1] <= 100) & (centre[:, :, 2] <= 100)
    return bool((green & red).any())
