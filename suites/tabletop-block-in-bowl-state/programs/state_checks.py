"""Block in bowl, state vector: a block is in its bowl when their centres are within the bowl's inner
radius horizontally (the layout the suite describes: blocks at obs[0:9], bowls at obs[9:18])."""
import numpy as np

SUBTASKS = ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")
INNER_RADIUS = 0.06


def in_bowl(obs, k):
    dx = obs[3 * k] - obs[9 + 3 * k]
    dy = obs[3 * k + 1] - obs[9 + 3 * k + 1]
    return bool(dx * dx + dy * dy < INNER_RADIUS * INNER_RADIUS)


def red_in_bowl(obs):
    return in_bowl(obs, 0)


def green_in_bowl(obs):
    return in_bowl(obs, 1)


def blue_in_bowl(obs):
    return in_bowl(obs, 2)


def all_blocks_placed(obs):
    return in_bowl(obs, 0) and in_bowl(obs, 1) and in_bowl(obs, 2)
