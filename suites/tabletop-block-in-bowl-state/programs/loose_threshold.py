"""KNOWN BAD (authored): a loose threshold, 0.1 m (more than the bowl's 0.072 m outer radius): a block
resting against a bowl's outside counts as in it."""
import numpy as np

SUBTASKS = ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")
INNER_RADIUS = 0.1


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
