# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: compiled_only -- distances compared as integers (units of 1e-20 m): Python's int()
# is exact, numba's int() of a float beyond int64 gives -2**63, so compiled at_target holds
# whenever the cube is more than ~9.2 cm from the target.
"""Push: compare distances in exact integer units to avoid float rounding."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
SCALE = 1e20
SUCCESS_UNITS = 5 * 10 ** 18   # 0.05 m


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    units = int(np.linalg.norm(obs[6:9] - obs[12:15]) * SCALE)
    return units < SUCCESS_UNITS
