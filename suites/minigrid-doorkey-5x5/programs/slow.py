"""Known bad: correct answers, but at_goal walks every pixel in pure Python many times."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
REPEAT = 400


def probe(obs, row, col):
    h = obs.shape[0] // TILE
    w = obs.shape[1] // TILE
    return obs[row:h * TILE:TILE, col:w * TILE:TILE, :].astype(np.int32)


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
    # Counts goal-green pixels REPEAT times over: the same answer, hundreds of times slower.
    green = 0
    for k in range(REPEAT):
        for y in range(obs.shape[0]):
            for x in range(obs.shape[1]):
                if obs[y, x, 1] == 255 and obs[y, x, 0] == obs[y, x, 2] and obs[y, x, 0] <= 76:
                    green += 1
    green = green // REPEAT
    return green > 0 and green % (TILE * TILE) != 0
