"""Known bad: every check holds from the first frame."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")


def reached(obs):
    return True


def near_target(obs):
    return True


def at_target(obs):
    return bool(obs.shape[0] > 0)
