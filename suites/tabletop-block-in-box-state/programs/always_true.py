"""KNOWN BAD (authored): every check is always true."""
import numpy as np

SUBTASKS = ("block_near_box", "block_in_box")


def block_near_box(obs):
    return True


def block_in_box(obs):
    return bool(obs.shape[0] > 0)
