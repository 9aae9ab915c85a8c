"""Block in box, state vector: compare the block's centre (obs[0:3]) with the box's (obs[3:6]) along x and y."""
import numpy as np

SUBTASKS = ("block_near_box", "block_in_box")


def block_near_box(obs):
    dx = obs[0] - obs[3]
    dy = obs[1] - obs[4]
    return bool(dx * dx + dy * dy < 0.15 * 0.15)


def block_in_box(obs):
    return bool(abs(obs[0] - obs[3]) < 0.06 and abs(obs[1] - obs[4]) < 0.05)
