# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: compiled_only -- the success radius is the near radius halved, 0.1 * 2 ** -halvings:
# 0.05 in Python, 0 in numba (integer power), so compiled at_target never holds.
"""Push: one radius, halved for success."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
NEAR = 0.1


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < NEAR)


def at_target(obs):
    halvings = 1
    radius = NEAR * 2 ** -halvings
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < radius)
