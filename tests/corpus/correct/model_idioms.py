"""Style: what chat models tend to write -- colour tuples compared with pixels and arrays.

`h, w, _ = obs.shape`, a dict of colours, `tuple(obs[y, x]) in GOAL.values()`,
`obs.astype(int) - COLOUR`, `np.all(obs >= LOW, axis=-1)` and `int(r) - int(b)`: plain NumPy
and Python that numba spells differently (carverify rewrites the compiled twin; see
sandbox/numba_compat.py).
Colours in the agent's field of view are blended 30% towards white, so each colour that
is matched exactly is listed both ways.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
KEY_LOW = (230, 230, 0)
GOAL = {"plain": (0, 255, 0), "lit": (76, 255, 76)}
DOOR_FILL = (114, 114, 0)


def colour_distance(obs, colour):
    """L1 distance of every pixel to a colour given as a tuple."""
    return np.abs(obs.astype(int) - colour).sum(axis=-1)


def has_key(obs):
    """The key is no longer drawn on the floor: the agent carries it."""
    yellow = np.all(obs >= KEY_LOW, axis=-1) & (obs[..., 2] <= 120)
    return int(np.count_nonzero(yellow)) < 4


def door_open(obs):
    """No locked-door fill, and no tile edge in the yellow of a closed door's frame."""
    fill = np.count_nonzero(colour_distance(obs, DOOR_FILL) <= 43)
    h, w, _ = obs.shape
    framed = 0
    for y in range(h):
        if y % TILE == 0 or y % TILE == TILE - 1:
            continue
        for x in range(0, w, TILE):
            r, g, b = obs[y, x]
            if int(r) >= 150 and int(g) >= 150 and int(r) - int(b) >= 60:
                framed += 1
    return fill < 12 and framed < 4


def at_goal(obs):
    """The goal tile is partly covered: only the agent can stand on it."""
    h, w, _ = obs.shape
    green = 0
    for y in range(h):
        for x in range(w):
            if tuple(obs[y, x]) in GOAL.values():
                green += 1
    return 0 < green < TILE * TILE
