# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- np.linalg.norm over the documented slices, with a clipped progress.
"""Push: distances from the state vector's slices."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")

REACH_RADIUS = 0.06
REACH_HEIGHT = 0.05
NEAR = 0.10
SUCCESS = 0.05


def reached(obs):
    gripper = obs[0:3]
    cube = obs[6:9]
    return bool(np.linalg.norm(gripper[:2] - cube[:2]) < REACH_RADIUS and gripper[2] < REACH_HEIGHT)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < NEAR)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < SUCCESS)


def progress(obs):
    d = np.linalg.norm(obs[6:9] - obs[12:15])
    return float(np.clip(1.0 - d / 0.45, 0.0, 1.0))
