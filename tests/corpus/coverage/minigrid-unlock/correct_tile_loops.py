# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- loops over tiles, helper functions, early returns.
"""Unlock: scan the tiles one by one for a key shape or an open door."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8


def same_pixel(obs, y0, x0, y1, x1):
    for c in range(3):
        if obs[y0, x0, c] != obs[y1, x1, c]:
            return False
    return True


def floor_pixel(obs, y, x):
    r = int(obs[y, x, 0])
    if r != int(obs[y, x, 1]) or r != int(obs[y, x, 2]):
        return False
    return r == 0 or r == 76


def is_key_tile(obs, y, x):
    if floor_pixel(obs, y + 4, x + 4):
        return False
    for row in (3, 5, 6):
        if not same_pixel(obs, y + row, x + 4, y + 4, x + 4):
            return False
    if not (same_pixel(obs, y + 2, x + 3, y + 4, x + 4) and same_pixel(obs, y + 2, x + 5, y + 4, x + 4)):
        return False
    if same_pixel(obs, y + 2, x + 4, y + 4, x + 4):
        return False
    return floor_pixel(obs, y + 4, x + 6) and floor_pixel(obs, y + 7, x + 4)


def is_open_door_tile(obs, y, x):
    if floor_pixel(obs, y + 4, x + 7):
        return False
    for row in (2, 3, 5):
        if not same_pixel(obs, y + row, x + 7, y + 4, x + 7):
            return False
    return floor_pixel(obs, y + 7, x + 3) and floor_pixel(obs, y + 4, x + 3)


def has_key(obs):
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            if is_key_tile(obs, y, x):
                return False
    return True


def door_open(obs):
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            if is_open_door_tile(obs, y, x):
                return True
    return False
