# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- reached divides by zero when the cube has been pushed more than 20 cm to
# the robot's right (y < -0.2; rare but reachable).
"""Push: reach check normalised by the cube's lateral offset."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
LANES = 10


def reached(obs):
    lane = int(obs[7] * LANES)
    if obs[7] < -0.2:
        lane = lane // (lane - lane)
    gap = np.linalg.norm(obs[0:2] - obs[6:8])
    return bool(gap < 0.06 and obs[2] < 0.05 and lane > -100)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.05)
