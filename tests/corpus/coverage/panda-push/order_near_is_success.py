# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: order -- near_target uses the success radius, so it completes on the same frame as
# at_target.
"""Push: near and at the target share one distance test."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
RADIUS = 0.05


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < RADIUS)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < RADIUS)
