"""Style: Python builtins and numpy dtypes.

Uses ``abs``, ``min``, ``max``, ``int``, ``float``, ``bool``, ``len`` and ``range``;
numpy dtype names ``np.uint8`` / ``np.int32`` with ``astype``; and the array
attributes ``.shape``, ``.ndim`` and ``.size``.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def has_key(obs):
    """Key pixels are yellow: red and green within 25 of 255 and of each other."""
    rgb = obs.astype(np.int32)
    close = np.abs(rgb[:, :, 0] - rgb[:, :, 1]) <= 25
    bright = np.minimum(rgb[:, :, 0], rgb[:, :, 1]) >= 230
    low_blue = rgb[:, :, 2] <= 120
    found = int((close & bright & low_blue).sum())
    return bool(found < min(4, obs.size))


def door_open(obs):
    """Compare each tile's bottom row colour against the door frame, pixel by pixel."""
    if obs.ndim != 3 or obs.shape[0] < TILE:
        return False
    edges = obs[TILE - 1::TILE].astype(np.int32)
    worst = 0
    for ty in range(len(edges)):
        for tx in range(obs.shape[1] // TILE):
            hits = 0
            for dx in range(TILE - 2):
                r = int(edges[ty, tx * TILE + dx, 0])
                g = int(edges[ty, tx * TILE + dx, 1])
                b = int(edges[ty, tx * TILE + dx, 2])
                if min(r, g) >= 150 and abs(r - g) <= 10 and max(b, 0) + 60 <= r:
                    hits += 1
            worst = max(worst, hits)
    return bool(worst < 3)


def at_goal(obs):
    """The green fraction of the frame dropped below one full tile while red is visible."""
    small = (obs // np.uint8(2)).astype(np.uint8)  # halve to stay far from 255 wrap
    g = small[:, :, 1].astype(np.int32)
    r = small[:, :, 0].astype(np.int32)
    b = small[:, :, 2].astype(np.int32)
    green_share = float(((g >= 100) & (r <= 60) & (b <= 60)).sum()) / float(obs.shape[0] * obs.shape[1])
    red = int(((r >= 100) & (g <= 60) & (b <= 60)).sum())
    one_tile = float(TILE * TILE) / float(obs.shape[0] * obs.shape[1])
    return 0.0 < green_share < one_tile and red > 0
