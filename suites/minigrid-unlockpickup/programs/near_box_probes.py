"""The task's steps as the description tells them, with the walk to the box as a step of its
own: take the key, open the door, put the key down, stand beside the box, take the box.
Reads fixed pixels of every 8x8 tile and matches shapes."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "key_down", "near_box", "has_box")

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


def key_seen(obs):
    # A key is a shaft in tile column 4 topped by a ring whose hole shows at (2, 4).
    # The key and door share a random colour, so match the shape, not the colour.
    shaft = probe(obs, 4, 4)
    ring = same(probe(obs, 2, 3), shaft) & same(probe(obs, 2, 5), shaft)
    hole = ~same(probe(obs, 2, 4), shaft)
    body = same(probe(obs, 5, 4), shaft) & same(probe(obs, 6, 4), shaft) & ~floor(shaft)
    clear = floor(probe(obs, 4, 1)) & floor(probe(obs, 7, 4))
    return bool((ring & hole & body & clear).any())


def door_locked(obs):
    # A locked door fills its tile with a dark shade of its colour, the key slot at (4, 4)
    # in the full colour; an unlocked one is hollow (floor inside) or open (a bar).
    inner = probe(obs, 2, 2)
    fill = same(probe(obs, 2, 5), inner) & same(probe(obs, 5, 2), inner) & same(probe(obs, 5, 5), inner)
    slot = ~same(probe(obs, 4, 4), inner) & same(probe(obs, 4, 5), probe(obs, 4, 4))
    return bool((fill & slot & ~floor(inner)).any())


def has_key(obs):
    return not key_seen(obs)


def door_open(obs):
    # An open door is a coloured bar down the tile's right edge over plain floor; a
    # closed or locked door colours the tile's bottom row too.
    bar = probe(obs, 4, 7)
    edge = same(probe(obs, 2, 7), bar) & same(probe(obs, 5, 7), bar) & ~floor(bar)
    return bool((edge & floor(probe(obs, 7, 3))).any())


def key_down(obs):
    # Only the key unlocks the door: a key on the floor beside an unlocked door was put down.
    return key_seen(obs) and not door_locked(obs)


def boxes(obs):
    # A box is an outlined square with a slit across its middle: rows 3-4 of columns
    # 3-4 share the outline colour, rows 2 and 5 are floor.  Picked up, it vanishes.
    slit = probe(obs, 3, 3)
    bar = same(probe(obs, 3, 4), slit) & same(probe(obs, 4, 3), slit) & same(probe(obs, 4, 4), slit)
    gaps = floor(probe(obs, 2, 3)) & floor(probe(obs, 2, 4)) & floor(probe(obs, 5, 3)) & floor(probe(obs, 5, 4))
    return bar & ~floor(slit) & gaps & floor(probe(obs, 7, 3))


def agents(obs):
    # The agent is a red triangle, always inside its own lit view: its tile's four centre
    # pixels are lit red (255, 76, 76) whichever way it faces, and its tip or base reaches
    # rows 2 or 5 there, where a lit red box shows floor.
    centre = probe(obs, 3, 3)
    red = (centre[:, :, 0] == 255) & (centre[:, :, 1] == 76) & (centre[:, :, 2] == 76)
    solid = same(probe(obs, 3, 4), centre) & same(probe(obs, 4, 3), centre) & same(probe(obs, 4, 4), centre)
    return red & solid & ~boxes(obs)


def near_box(obs):
    # The agent stands on a tile beside the box (above, below, left or right).
    a, b = agents(obs), boxes(obs)
    beside = (a[1:, :] & b[:-1, :]).any() or (a[:-1, :] & b[1:, :]).any()
    return bool(beside or (a[:, 1:] & b[:, :-1]).any() or (a[:, :-1] & b[:, 1:]).any())


def has_box(obs):
    return not bool(boxes(obs).any())
