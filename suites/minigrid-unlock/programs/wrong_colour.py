"""Known bad: assumes a yellow key, but Unlock colours the key and door at random."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

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
    # Wrong colour on purpose: assumes the key is always yellow, as in DoorKey; here
    # the key takes the door's random colour.
    p = probe(obs, 4, 4)
    yellow = (p[:, :, 0] >= 230) & (p[:, :, 1] >= 230) & (p[:, :, 2] <= 100)
    return not bool(yellow.any())


def door_open(obs):
    # An open door is a coloured bar down the tile's right edge over plain floor; a
    # closed or locked door colours the tile's bottom row too.
    bar = probe(obs, 4, 7)
    edge = same(probe(obs, 2, 7), bar) & same(probe(obs, 5, 7), bar) & ~floor(bar)
    return bool((edge & floor(probe(obs, 7, 3))).any())
