"""Known bad: assumes every frame looks like a real one -- the 11x6 grid's shape, with the
door always drawn in the middle wall -- so unusual frames raise instead of returning False."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8
GRID_H = 6
GRID_W = 11
WALL_X = 5


def probe(obs, row, col):
    # Assumes the shape instead of reading obs.shape: reshape fails on any other size.
    tiles = obs.reshape(GRID_H, TILE, GRID_W, TILE, 3)
    return tiles[:, row, :, col, :]


def door_row(obs):
    # Assumes a door is always drawn in the middle wall, as the one tile of that column
    # whose pixels are not all alike; on a frame without one, [0] indexes an empty array.
    x = WALL_X * TILE
    found = np.zeros(GRID_H, dtype=np.bool_)
    for ty in range(GRID_H):
        tile = obs[ty * TILE:(ty + 1) * TILE, x:x + TILE, :]
        found[ty] = tile.max() != tile.min()
    return np.nonzero(found)[0][0]


def same(a, b):
    return (a[:, :, 0] == b[:, :, 0]) & (a[:, :, 1] == b[:, :, 1]) & (a[:, :, 2] == b[:, :, 2])


def floor(p):
    # Empty floor is pure black, or (76, 76, 76) where the agent's view lightens it.
    grey = (p[:, :, 0] == p[:, :, 1]) & (p[:, :, 1] == p[:, :, 2])
    return grey & ((p[:, :, 0] == 0) | (p[:, :, 0] == 76))


def has_key(obs):
    # A key is a shaft in tile column 4 topped by a ring whose hole shows at (2, 4).
    # The key and door share a random colour, so match the shape, not the colour.
    shaft = probe(obs, 4, 4)
    ring = same(probe(obs, 2, 3), shaft) & same(probe(obs, 2, 5), shaft)
    hole = ~same(probe(obs, 2, 4), shaft)
    body = same(probe(obs, 5, 4), shaft) & same(probe(obs, 6, 4), shaft) & ~floor(shaft)
    clear = floor(probe(obs, 4, 1)) & floor(probe(obs, 7, 4))
    return not bool((ring & hole & body & clear).any())


def door_open(obs):
    # Find the door first, then ask whether it is drawn open: a bar down the tile's
    # right edge over a floor-coloured bottom row.
    y = door_row(obs) * TILE
    x = WALL_X * TILE
    bar = obs[y + 4, x + 7]
    base = obs[y + 7, x + 3]
    coloured = not (bar[0] == bar[1] and bar[1] == bar[2] and (bar[0] == 0 or bar[0] == 76))
    plain = base[0] == base[1] and base[1] == base[2] and (base[0] == 0 or base[0] == 76)
    return bool(coloured and plain)