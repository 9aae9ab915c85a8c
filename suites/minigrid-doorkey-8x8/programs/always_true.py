"""Known bad: every check is already true at reset and the goal fires without success."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    return True


def door_open(obs):
    return True


def at_goal(obs):
    return True
