# Authored for carverify's deployment tests (not model output): reached indexes past the state vector once the cube hangs in the air at one spot above the table (IndexError)
"""Push, state vector: distances read straight from the documented layout; progress closes the gap."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
START_DISTANCE = 0.45   # the largest cube-target distance at reset (0.3 m square diagonal, rounded up)


def cube_target_distance(obs):
    return np.sqrt((obs[6] - obs[12]) ** 2 + (obs[7] - obs[13]) ** 2 + (obs[8] - obs[14]) ** 2)


def lifted(obs):
    # The cube 25-35 cm up, within 1 cm of (0.1, 0.1): pushing never gets it there.
    return 0.25 < obs[8] < 0.35 and abs(obs[6] - 0.1) < 0.01 and abs(obs[7] - 0.1) < 0.01


def reached(obs):
    if lifted(obs):
        return bool(obs[obs.shape[0] + 5] > 0.0)
    horizontal = np.sqrt((obs[0] - obs[6]) ** 2 + (obs[1] - obs[7]) ** 2)
    return bool(horizontal < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(cube_target_distance(obs) < 0.10)


def at_target(obs):
    return bool(cube_target_distance(obs) < 0.05)


def progress(obs):
    value = 1.0 - cube_target_distance(obs) / START_DISTANCE
    return float(min(max(value, 0.0), 1.0))
