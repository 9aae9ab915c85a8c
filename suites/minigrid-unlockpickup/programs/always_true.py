"""Known bad: every check is already true at reset and the goal fires without success."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "has_box")


def has_key(obs):
    return True


def door_open(obs):
    return True


def has_box(obs):
    return True
