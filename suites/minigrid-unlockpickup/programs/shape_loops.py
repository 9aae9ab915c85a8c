"""Tile-by-tile shape matching that ignores colours: key, open door and box."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "has_box")

TILE = 8


def floor(obs, y, x):
    # Empty floor is pure black, or (76, 76, 76) where the agent's view lightens it.
    r = int(obs[y, x, 0])
    return r == int(obs[y, x, 1]) and r == int(obs[y, x, 2]) and (r == 0 or r == 76)


def same(obs, y0, x0, y1, x1):
    return (obs[y0, x0, 0] == obs[y1, x1, 0] and obs[y0, x0, 1] == obs[y1, x1, 1]
            and obs[y0, x0, 2] == obs[y1, x1, 2])


def key_at(obs, y, x):
    # A key is a solid vertical shaft in column 4 (rows 3-6) with floor on both sides
    # and under it.  The agent triangle never leaves that pattern.
    if floor(obs, y + 4, x + 4):
        return False
    for r in range(3, 7):
        if not same(obs, y + r, x + 4, y + 4, x + 4):
            return False
    return floor(obs, y + 4, x + 2) and floor(obs, y + 4, x + 6) and floor(obs, y + 7, x + 4)


def open_door_at(obs, y, x):
    # An open door is a coloured bar down the right edge; the bottom row of the tile
    # stays floor (a closed or locked door fills it).
    if floor(obs, y + 4, x + 7):
        return False
    return same(obs, y + 3, x + 7, y + 4, x + 7) and floor(obs, y + 7, x + 3)


def box_at(obs, y, x):
    # A box is a square outline: its four corners (1,1)..(6,6) share one colour and
    # its inside and the tile's bottom row are floor.
    if floor(obs, y + 1, x + 1):
        return False
    corners = (same(obs, y + 1, x + 1, y + 1, x + 6) and same(obs, y + 1, x + 1, y + 6, x + 1)
               and same(obs, y + 1, x + 1, y + 6, x + 6))
    return corners and floor(obs, y + 2, x + 3) and floor(obs, y + 5, x + 4) and floor(obs, y + 7, x + 3)


def any_tile(obs, kind):
    for ty in range(obs.shape[0] // TILE):
        for tx in range(obs.shape[1] // TILE):
            y = ty * TILE
            x = tx * TILE
            if kind == 0 and key_at(obs, y, x):
                return True
            if kind == 1 and open_door_at(obs, y, x):
                return True
            if kind == 2 and box_at(obs, y, x):
                return True
    return False


def has_key(obs):
    return not any_tile(obs, 0)


def door_open(obs):
    return any_tile(obs, 1)


def has_box(obs):
    return not any_tile(obs, 2)
