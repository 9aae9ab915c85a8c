# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- reached only counts a gripper behind the cube (on the side away from the
# target, where a push starts); reaching it from the side or the front is missed.
"""Push: the gripper has reached the cube when it is low, close, and ready to push."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def reached(obs):
    gripper = obs[0:2]
    cube = obs[6:8]
    target = obs[12:14]
    offset = gripper - cube
    if np.linalg.norm(offset) >= 0.06 or obs[2] >= 0.05:
        return False
    push_direction = target - cube
    return bool(offset[0] * push_direction[0] + offset[1] * push_direction[1] <= 0.0)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.05)
