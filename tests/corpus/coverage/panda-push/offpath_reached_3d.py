# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- reached uses the 3-D gripper-cube distance where the task states a
# horizontal one: a gripper low beside the cube but 5-6 cm away horizontally is missed.
"""Push: 'reached' = the gripper is within 6 cm of the cube (and low)."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def reached(obs):
    gap = np.linalg.norm(obs[0:3] - obs[6:9])
    return bool(gap < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.05)


def progress(obs):
    return float(np.clip(1.0 - np.linalg.norm(obs[6:9] - obs[12:15]) / 0.45, 0.0, 1.0))
