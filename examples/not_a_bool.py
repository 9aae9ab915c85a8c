"""Authored example: returns a pixel count where a truth value is required."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    return np.count_nonzero(obs[4::8, 4::8, 0] > 200)


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
