# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: threshold -- at_target with a 6 cm tolerance where the environment uses 5 cm.
"""Push: success when the cube is 'about' on the target."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
TOLERANCE = 0.06


def cube_gap(obs):
    return float(np.linalg.norm(obs[6:9] - obs[12:15]))


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return cube_gap(obs) < 0.10


def at_target(obs):
    return cube_gap(obs) < TOLERANCE
