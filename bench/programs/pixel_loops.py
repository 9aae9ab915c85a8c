"""Authored benchmark program: loop-style checks that visit every pixel (the slow extreme)."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")


def count_colour(obs, r_lo, g_lo, b_hi):
    h = obs.shape[0]
    w = obs.shape[1]
    n = 0
    for y in range(h):
        for x in range(w):
            if obs[y, x, 0] >= r_lo and obs[y, x, 1] >= g_lo and obs[y, x, 2] <= b_hi:
                n += 1
    return n


def has_key(obs):
    return count_colour(obs, 230, 230, 100) == 0


def door_open(obs):
    return count_colour(obs, 150, 150, 100) < 20


def at_goal(obs):
    return count_colour(obs, 0, 200, 100) < 8
