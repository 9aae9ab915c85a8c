"""KNOWN BAD (authored): the box's half sizes swapped between x (0.06 m) and y (0.05 m): a block on the
top of a wall along x counts as in the box."""
import numpy as np

SUBTASKS = ("block_near_box", "block_in_box")


def block_near_box(obs):
    dx = obs[0] - obs[3]
    dy = obs[1] - obs[4]
    return bool(dx * dx + dy * dy < 0.15 * 0.15)


def block_in_box(obs):
    return bool(abs(obs[0] - obs[3]) < 0.05 and abs(obs[1] - obs[4]) < 0.06)
