"""Style: tuple unpacking, ``zip`` and ``enumerate``.

``h, w, c = obs.shape`` unpacks the frame shape (note: ``c``, not ``_c`` --
underscore names are not allowed), ``ys, xs = np.nonzero(...)`` unpacks coordinates,
and the checks iterate with ``for y, x in zip(ys, xs)`` and ``for i, row in
enumerate(...)``.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    """Count key-yellow pixels by walking the coordinates of bright red+green pixels."""
    h, w, c = obs.shape
    rgb = obs.astype(np.int32)
    ys, xs = np.nonzero((rgb[:, :, 0] >= 230) & (rgb[:, :, 1] >= 230))
    key = 0
    for y, x in zip(ys, xs):
        if rgb[y, x, 2] <= 120 and y < h and x < w:
            key += 1
    return key < 4


def door_open(obs):
    """Walk every tile's bottom row with ``enumerate``; a door frame makes it yellow."""
    h, w, c = obs.shape
    rgb = obs.astype(np.int32)
    for i, row in enumerate(rgb[TILE - 1::TILE]):
        for tx, start in enumerate(range(0, w, TILE)):
            segment = row[start:start + TILE - 2]
            r, g, b = segment[:, 0], segment[:, 1], segment[:, 2]
            yellow = (r >= 150) & (g >= 150) & (b + 60 <= r)
            if yellow.sum() >= 3:
                return False
    return True


def at_goal(obs):
    """Pair each agent pixel with its tile and test that tile for goal green."""
    h, w, c = obs.shape
    rgb = obs.astype(np.int32)
    red_y, red_x = np.nonzero((rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120))
    green = (rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120)
    for y, x in zip(red_y, red_x):
        ty, tx = y // TILE, x // TILE
        if green[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE].any():
            return True
    return False
