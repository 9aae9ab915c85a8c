# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- nested loops over tiles, small helpers, early returns.
"""DoorKey: walk the grid tile by tile and classify each tile from a few pixels."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE_SIZE = 8


def is_yellow(pixel):
    r = int(pixel[0])
    g = int(pixel[1])
    b = int(pixel[2])
    return r > 100 and g > 100 and b + 50 < r


def is_red(pixel):
    return int(pixel[0]) > 200 and int(pixel[1]) < 100 and int(pixel[2]) < 100


def is_green(pixel):
    return int(pixel[1]) > 200 and int(pixel[0]) < 100 and int(pixel[2]) < 100


def key_in_tile(obs, top, left):
    # The key shaft runs down the tile's centre column in full yellow.
    for row in range(3, 7):
        pixel = obs[top + row, left + 4]
        if not (int(pixel[0]) == 255 and int(pixel[1]) == 255):
            return False
    return True


def has_key(obs):
    rows = obs.shape[0] // TILE_SIZE
    cols = obs.shape[1] // TILE_SIZE
    for ty in range(rows):
        for tx in range(cols):
            if key_in_tile(obs, ty * TILE_SIZE, tx * TILE_SIZE):
                return False
    return True


def door_open(obs):
    rows = obs.shape[0] // TILE_SIZE
    cols = obs.shape[1] // TILE_SIZE
    found_bar = False
    for ty in range(rows):
        for tx in range(cols):
            top = ty * TILE_SIZE
            left = tx * TILE_SIZE
            if is_yellow(obs[top + 4, left]):
                return False          # a locked or closed door's frame
            if is_yellow(obs[top + 4, left + 7]) and is_yellow(obs[top + 2, left + 7]):
                found_bar = True      # the open door's bar on the right edge
    return found_bar


def at_goal(obs):
    rows = obs.shape[0] // TILE_SIZE
    cols = obs.shape[1] // TILE_SIZE
    for ty in range(rows):
        for tx in range(cols):
            top = ty * TILE_SIZE
            left = tx * TILE_SIZE
            if is_green(obs[top + 7, left + 7]) and is_green(obs[top, left]) and is_red(obs[top + 4, left + 4]):
                return True
    return False
