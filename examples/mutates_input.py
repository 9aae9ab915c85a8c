"""Authored example: blanks the grid lines of the observation itself instead of a copy."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    obs[0::8, :, :] = 0
    return not bool((obs[4::8, 4::8, 0] > 200).any())


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
