"""KNOWN BAD (authored): every check is always true."""
import numpy as np

SUBTASKS = ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")


def red_in_bowl(obs):
    return True


def green_in_bowl(obs):
    return True


def blue_in_bowl(obs):
    return True


def all_blocks_placed(obs):
    return bool(obs.shape[0] > 0)
