"""Style: defensive control flow -- ``assert``, early returns, ``if/elif/else``.

Each check first asserts the frame layout, then returns as soon as the answer is
known, combining conditions with ``and`` / ``or`` / ``not``.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    """Early return False as soon as four key-yellow pixels were seen."""
    assert obs.ndim == 3
    assert obs.shape[2] == 3
    rgb = obs.astype(np.int32)
    bright = (rgb[:, :, 0] >= 230) & (rgb[:, :, 1] >= 230)
    if not bright.any():
        return True
    seen = 0
    for y in range(obs.shape[0]):
        row = bright[y] & (rgb[y, :, 2] <= 120)
        seen = seen + int(row.sum())
        if seen >= 4:
            return False
    return True


def door_open(obs):
    """Classify each tile's bottom edge as door frame / floor and stop at the first frame."""
    assert obs.ndim == 3
    rgb = obs.astype(np.int32)
    for ty in range(obs.shape[0] // TILE):
        y = ty * TILE + TILE - 1
        for tx in range(obs.shape[1] // TILE):
            seg = rgb[y, tx * TILE:tx * TILE + TILE - 2]
            yellow = (seg[:, 0] >= 150) & (seg[:, 1] >= 150) & (seg[:, 2] + 60 <= seg[:, 0])
            n = int(yellow.sum())
            if n >= 3:
                return False
            elif n > 0:
                continue  # a stray anti-aliased yellow pixel, not a door frame
            else:
                continue
    return True


def at_goal(obs):
    """Return early when the goal or the agent is not visible at all."""
    assert obs.ndim == 3 and obs.shape[2] == 3
    rgb = obs.astype(np.int32)
    green = (rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120)
    red = (rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120)
    if not green.any():
        return False
    elif not red.any():
        return False
    for ty in range(obs.shape[0] // TILE):
        for tx in range(obs.shape[1] // TILE):
            g = green[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE].any()
            r = red[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE].any()
            if g and r:
                return True
            if g or r:
                continue
    return False
