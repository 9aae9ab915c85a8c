"""Style: pure Python loops with ``range`` -- no vectorisation at all.

Every check walks the 8x8 tiles of the DoorKey-5x5 frame with nested ``for ... in
range(...)`` loops and reads single pixels, the way a model that does not trust numpy
broadcasting might write it.  Pixel values are converted with ``int`` before any
arithmetic so uint8 never wraps.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def pixel(obs, y, x):
    """Return the (r, g, b) values of one pixel as Python ints."""
    return int(obs[y, x, 0]), int(obs[y, x, 1]), int(obs[y, x, 2])


def has_key(obs):
    """True once the key is no longer drawn on the floor (the agent carries it)."""
    height = obs.shape[0]
    width = obs.shape[1]
    found = 0
    for y in range(height):
        for x in range(width):
            r, g, b = pixel(obs, y, x)
            if r >= 230 and g >= 230 and b <= 120:
                found += 1
    return found < 4


def door_open(obs):
    """True when no tile has the yellow bottom frame of a locked or closed door."""
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    for ty in range(rows):
        y = ty * TILE + TILE - 1
        for tx in range(cols):
            framed = 0
            for dx in range(TILE - 2):
                r, g, b = pixel(obs, y, tx * TILE + dx)
                if r >= 150 and g >= 150 and b + 60 <= r:
                    framed += 1
            if framed >= 3:
                return False
    return True


def at_goal(obs):
    """True when one tile holds both goal-green and agent-red pixels."""
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    for ty in range(rows):
        for tx in range(cols):
            green = 0
            red = 0
            for dy in range(TILE):
                for dx in range(TILE):
                    r, g, b = pixel(obs, ty * TILE + dy, tx * TILE + dx)
                    if g >= 200 and r <= 120 and b <= 120:
                        green += 1
                    if r >= 200 and g <= 120 and b <= 120:
                        red += 1
            if green > 0 and red > 0:
                return True
    return False
