"""KNOWN BAD (authored): every check is always true."""
import numpy as np

SUBTASKS = ("red_in_zone", "blue_in_zone", "piles_separated")


def red_in_zone(obs):
    return True


def blue_in_zone(obs):
    return True


def piles_separated(obs):
    return bool(obs.shape[0] > 0)
