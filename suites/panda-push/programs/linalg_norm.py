"""Push, state vector, the way chat models write it: np.linalg.norm of position slices."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def positions(obs):
    """Gripper, cube and target centres (metres), per the suite's documented layout."""
    return obs[0:3], obs[6:9], obs[12:15]


def reached(obs):
    gripper, cube, _ = positions(obs)
    return bool(np.linalg.norm(gripper[:2] - cube[:2]) < 0.06 and gripper[2] < 0.05)


def near_target(obs):
    _, cube, target = positions(obs)
    return np.linalg.norm(cube - target) < 0.10


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15], axis=-1) < 0.05)


def progress(obs):
    distance = np.linalg.norm(obs[6:9] - obs[12:15])
    return float(np.clip(1.0 - distance / 0.45, 0.0, 1.0))
