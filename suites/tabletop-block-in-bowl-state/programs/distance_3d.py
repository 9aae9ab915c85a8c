"""KNOWN BAD (authored): the 3-D distance between a block's centre and its bowl's centre against the
bowl's 2-D inner radius: a block stacked on another inside its bowl sits too high to count."""
import numpy as np

SUBTASKS = ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")
INNER_RADIUS = 0.06


def in_bowl(obs, k):
    dx = obs[3 * k] - obs[9 + 3 * k]
    dy = obs[3 * k + 1] - obs[9 + 3 * k + 1]
    dz = obs[3 * k + 2] - obs[9 + 3 * k + 2]
    return bool(dx * dx + dy * dy + dz * dz < INNER_RADIUS * INNER_RADIUS)


def red_in_bowl(obs):
    return in_bowl(obs, 0)


def green_in_bowl(obs):
    return in_bowl(obs, 1)


def blue_in_bowl(obs):
    return in_bowl(obs, 2)


def all_blocks_placed(obs):
    return in_bowl(obs, 0) and in_bowl(obs, 1) and in_bowl(obs, 2)
