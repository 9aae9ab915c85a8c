"""Authored example: passes every static check, then never returns on real frames."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    n = 0
    while n >= 0:
        n = n + 1
    return True


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
