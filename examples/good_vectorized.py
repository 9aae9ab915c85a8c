"""Authored example: a correct DoorKey program written with boolean masks."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def tile_centres(obs):
    # One pixel per 8x8 tile, widened so channel arithmetic cannot wrap.
    return obs[4::8, 4::8, :].astype(np.int32)


def has_key(obs):
    c = tile_centres(obs)
    key = (c[:, :, 0] > 200) & (c[:, :, 1] > 200) & (c[:, :, 2] < 100)
    return not bool(key.any())


def door_open(obs):
    edge = obs[4::8, 7::8, :].astype(np.int32)
    floor = obs[7::8, 3::8, :].astype(np.int32)
    bar = (edge[:, :, 0] > 150) & (edge[:, :, 1] > 150) & (edge[:, :, 2] < 100)
    plain = (floor[:, :, 0] == floor[:, :, 1]) & (floor[:, :, 1] == floor[:, :, 2])
    return bool((bar & plain).any())


def at_goal(obs):
    corner = obs[7::8, 7::8, :].astype(np.int32)
    centre = tile_centres(obs)
    green = (corner[:, :, 1] > 200) & (corner[:, :, 0] < 100)
    red = (centre[:, :, 0] > 200) & (centre[:, :, 1] < 100)
    return bool((green & red).any())
