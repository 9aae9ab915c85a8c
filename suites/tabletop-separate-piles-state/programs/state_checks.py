"""Separate piles, state vector: each block's centre (obs[0:12], red, red, blue, blue) inside its colour's
zone (red zone obs[12:15], blue zone obs[15:18]): within 0.07 m along x and along y."""
import numpy as np

SUBTASKS = ("red_in_zone", "blue_in_zone", "piles_separated")
HALF = 0.07


def in_zone(obs, block, zone):
    return abs(obs[3 * block] - obs[12 + 3 * zone]) < HALF and abs(obs[3 * block + 1] - obs[13 + 3 * zone]) < HALF


def red_in_zone(obs):
    return bool(in_zone(obs, 0, 0) and in_zone(obs, 1, 0))


def blue_in_zone(obs):
    return bool(in_zone(obs, 2, 1) and in_zone(obs, 3, 1))


def piles_separated(obs):
    return bool(red_in_zone(obs) and blue_in_zone(obs))
