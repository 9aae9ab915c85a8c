"""KNOWN BAD (authored): checks only the first block of each colour (obs[0:3] red, obs[6:9] blue):
a colour counts as sorted while its second block is still out."""
import numpy as np

SUBTASKS = ("red_in_zone", "blue_in_zone", "piles_separated")
HALF = 0.07


def in_zone(obs, block, zone):
    return abs(obs[3 * block] - obs[12 + 3 * zone]) < HALF and abs(obs[3 * block + 1] - obs[13 + 3 * zone]) < HALF


def red_in_zone(obs):
    return bool(in_zone(obs, 0, 0))


def blue_in_zone(obs):
    return bool(in_zone(obs, 2, 1))


def piles_separated(obs):
    return bool(red_in_zone(obs) and blue_in_zone(obs))
