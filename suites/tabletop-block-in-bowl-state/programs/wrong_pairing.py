"""KNOWN BAD (authored): each block is paired with the next colour's bowl (red with green, green with
blue, blue with red)."""
import numpy as np

SUBTASKS = ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")
INNER_RADIUS = 0.06


def in_bowl(obs, k):
    b = (k + 1) % 3
    dx = obs[3 * k] - obs[9 + 3 * b]
    dy = obs[3 * k + 1] - obs[9 + 3 * b + 1]
    return bool(dx * dx + dy * dy < INNER_RADIUS * INNER_RADIUS)


def red_in_bowl(obs):
    return in_bowl(obs, 0)


def green_in_bowl(obs):
    return in_bowl(obs, 1)


def blue_in_bowl(obs):
    return in_bowl(obs, 2)


def all_blocks_placed(obs):
    return in_bowl(obs, 0) and in_bowl(obs, 1) and in_bowl(obs, 2)
