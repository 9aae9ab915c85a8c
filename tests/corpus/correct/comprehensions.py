"""Style: list comprehensions and generator expressions with ``any`` / ``all``.

Tile statistics are gathered with comprehensions over tile indices; the decisions
use ``any``/``all`` and chained comparisons such as ``150 <= r <= 255``.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
SIDE = 5


def tile(obs, ty, tx):
    """The int32 pixels of tile (ty, tx)."""
    return obs[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE].astype(np.int32)


def key_count(block):
    """Number of key-yellow pixels in a tile."""
    return int(((block[:, :, 0] >= 230) & (block[:, :, 1] >= 230) & (block[:, :, 2] <= 120)).sum())


def framed(block):
    """True when the tile's bottom row (except the last two columns) is door-yellow."""
    row = block[TILE - 1, 0:TILE - 2]
    hits = [1 for r, g, b in row if 150 <= r <= 255 and 150 <= g <= 255 and 0 <= b <= r - 60]
    return len(hits) >= 3


def has_key(obs):
    """All tiles are free of key-yellow pixels."""
    counts = [key_count(tile(obs, ty, tx)) for ty in range(SIDE) for tx in range(SIDE)]
    return all(n < 4 for n in counts)


def door_open(obs):
    """No tile carries a door frame."""
    return not any(framed(tile(obs, ty, tx)) for ty in range(SIDE) for tx in range(SIDE))


def at_goal(obs):
    """Some tile has both goal green and agent red."""
    pairs = [
        (
            bool(((b[:, :, 1] >= 200) & (b[:, :, 0] <= 120) & (b[:, :, 2] <= 120)).any()),
            bool(((b[:, :, 0] >= 200) & (b[:, :, 1] <= 120) & (b[:, :, 2] <= 120)).any()),
        )
        for b in [tile(obs, ty, tx) for ty in range(SIDE) for tx in range(SIDE)]
    ]
    return any(green and red for green, red in pairs)
