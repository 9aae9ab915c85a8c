"""Known bad: the goal check returns the distance itself, not a truth value."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
START_DISTANCE = 0.45   # the largest cube-target distance at reset (0.3 m square diagonal, rounded up)


def cube_target_distance(obs):
    return np.sqrt((obs[6] - obs[12]) ** 2 + (obs[7] - obs[13]) ** 2 + (obs[8] - obs[14]) ** 2)


def reached(obs):
    horizontal = np.sqrt((obs[0] - obs[6]) ** 2 + (obs[1] - obs[7]) ** 2)
    return bool(horizontal < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(cube_target_distance(obs) < 0.10)


def at_target(obs):
    return cube_target_distance(obs)


def progress(obs):
    value = 1.0 - cube_target_distance(obs) / START_DISTANCE
    return float(min(max(value, 0.0), 1.0))
