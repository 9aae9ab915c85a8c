# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- loops over the axes, early returns, progress from the same helper.
"""Push: accumulate squared differences axis by axis."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")

GRIPPER = 0
CUBE = 6
TARGET = 12
START_DISTANCE = 0.45


def distance(obs, a, b, axes):
    total = 0.0
    for i in range(axes):
        diff = obs[a + i] - obs[b + i]
        total += diff * diff
    return total ** 0.5


def reached(obs):
    height = obs[GRIPPER + 2]
    if height > 0.05 or height == 0.05:
        return False
    return distance(obs, GRIPPER, CUBE, 2) < 0.06


def near_target(obs):
    return distance(obs, CUBE, TARGET, 3) < 0.10


def at_target(obs):
    return distance(obs, CUBE, TARGET, 3) < 0.05


def progress(obs):
    value = 1.0 - distance(obs, CUBE, TARGET, 3) / START_DISTANCE
    if value < 0.0:
        return 0.0
    if value > 1.0:
        return 1.0
    return value
