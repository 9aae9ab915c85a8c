# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: threshold -- reached with loose bounds (8 cm around, 7 cm high).
"""Push: generous 'reached' so the bonus is not missed."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def reached(obs):
    close = np.linalg.norm(obs[0:2] - obs[6:8]) < 0.08
    low = obs[2] < 0.07
    return bool(close and low)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.05)
