# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- explicit arithmetic on named indices, helper functions.
"""Push: squared differences written out, no progress term."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")

EE_X, EE_Y, EE_Z = 0, 1, 2
CUBE_X, CUBE_Y, CUBE_Z = 6, 7, 8
GOAL_X, GOAL_Y, GOAL_Z = 12, 13, 14


def horizontal_gap(obs):
    dx = obs[EE_X] - obs[CUBE_X]
    dy = obs[EE_Y] - obs[CUBE_Y]
    return np.sqrt(dx * dx + dy * dy)


def cube_to_goal(obs):
    dx = obs[CUBE_X] - obs[GOAL_X]
    dy = obs[CUBE_Y] - obs[GOAL_Y]
    dz = obs[CUBE_Z] - obs[GOAL_Z]
    return np.sqrt(dx * dx + dy * dy + dz * dz)


def reached(obs):
    if obs[EE_Z] >= 0.05:
        return False
    return bool(horizontal_gap(obs) < 0.06)


def near_target(obs):
    return bool(cube_to_goal(obs) < 0.1)


def at_target(obs):
    return bool(cube_to_goal(obs) < 0.05)
