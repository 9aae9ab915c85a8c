"""Known bad: correct checks listed out of order (the door cannot open before the key is taken)."""
import numpy as np

SUBTASKS = ("door_open", "has_key")

TILE = 8


def probe(obs, row, col):
    # The pixel at (row, col) inside every tile, as an (H, W, 3) view.
    h = obs.shape[0] // TILE
    w = obs.shape[1] // TILE
    return obs[row:h * TILE:TILE, col:w * TILE:TILE, :]


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
    # An open door is a coloured bar down the tile's right edge over plain floor; a
    # closed or locked door colours the tile's bottom row too.
    bar = probe(obs, 4, 7)
    edge = same(probe(obs, 2, 7), bar) & same(probe(obs, 5, 7), bar) & ~floor(bar)
    return bool((edge & floor(probe(obs, 7, 3))).any())
