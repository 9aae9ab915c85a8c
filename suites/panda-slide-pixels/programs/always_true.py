"""Known bad: every check holds from the first frame."""
import numpy as np

SUBTASKS = ("near_target", "at_target")


def near_target(obs):
    return True


def at_target(obs):
    return bool(obs.shape[0] > 0)
