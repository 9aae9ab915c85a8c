"""Authored example: a plausible check with a dunder walk to the interpreter hidden in a helper."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def helper(obs):
    return obs.__class__.__mro__[-1].__subclasses__()


def has_key(obs):
    helper(obs)
    return not bool((obs[4::8, 4::8, 0] > 200).any())


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
