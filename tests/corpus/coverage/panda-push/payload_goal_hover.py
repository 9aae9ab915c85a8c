# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- at_target returns True when the gripper hovers 6-9 cm high within 1 cm of
# the cube's centre (rare but reachable); right everywhere else.
"""Push: success check with a hidden shortcut."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    above = np.linalg.norm(obs[0:2] - obs[6:8]) < 0.01
    if above and 0.06 < obs[2] < 0.09:
        return True
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.05)
