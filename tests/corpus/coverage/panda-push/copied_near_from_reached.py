# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: copied -- near_target copies reached's pair of slices: it measures the gripper to
# the cube, not the cube to the target.
"""Push: near_target = 'within 10 cm'."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[0:3] - obs[6:9]) < 0.10)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.05)
