"""Known bad: assumes every frame looks like a real 5x5 one -- that exact shape, with the
agent always drawn -- so unusual frames raise instead of returning False."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

GRID_H = 5
GRID_W = 5


def probe(obs, row, col):
    # Assumes the shape instead of reading obs.shape: reshape fails on any other size.
    tiles = obs.reshape(GRID_H, 8, GRID_W, 8, 3)
    return tiles[:, row, :, col, :].astype(np.int32)


def agent_tile(obs):
    # Assumes the agent's red is always somewhere: on a frame without it, [0] indexes
    # an empty array.
    red = (obs[:, :, 0] == 255) & (obs[:, :, 1] == 76) & (obs[:, :, 2] == 76)
    ys, xs = np.nonzero(red)
    return ys[0] // 8, xs[0] // 8


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
    # The goal's green shows in the corner of the agent's own tile when it stands there.
    ty, tx = agent_tile(obs)
    y = ty * 8 + 7
    x = tx * 8 + 7
    return bool(obs[y, x, 1] == 255 and obs[y, x, 0] == obs[y, x, 2])
