"""Tile-by-tile matching: the key and the open door by shape in any colour, the goal by its green corners."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

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


def green(obs, y, x):
    # Goal green: plain (0, 255, 0) or lightened (76, 255, 76).
    r = int(obs[y, x, 0])
    return int(obs[y, x, 1]) == 255 and r == int(obs[y, x, 2]) and (r == 0 or r == 76)


def covered_goal_at(obs, y, x):
    # The goal fills its whole tile with green; the agent standing on it hides the
    # centre but never the corners.
    return green(obs, y + 7, x + 7) and green(obs, y, x) and not green(obs, y + 4, x + 4)


def any_tile(obs, kind):
    for ty in range(obs.shape[0] // TILE):
        for tx in range(obs.shape[1] // TILE):
            y = ty * TILE
            x = tx * TILE
            if kind == 0 and key_at(obs, y, x):
                return True
            if kind == 1 and open_door_at(obs, y, x):
                return True
            if kind == 2 and covered_goal_at(obs, y, x):
                return True
    return False


def has_key(obs):
    return not any_tile(obs, 0)


def door_open(obs):
    return any_tile(obs, 1)


def at_goal(obs):
    return any_tile(obs, 2)
