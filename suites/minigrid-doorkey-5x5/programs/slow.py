"""Known bad: correct answers, but at_goal first walks every pixel in pure Python thousands of times."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
REPEAT = 4000


def probe(obs, row, col):
    h = obs.shape[0] // TILE
    w = obs.shape[1] // TILE
    return obs[row:h * TILE:TILE, col:w * TILE:TILE, :].astype(np.int32)


def busy(obs):
    # Pointless work standing in for a careless per-pixel loop: millions of steps per call.
    total = 0
    for k in range(REPEAT):
        for y in range(obs.shape[0]):
            for x in range(obs.shape[1]):
                total += int(obs[y, x, 1])
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
