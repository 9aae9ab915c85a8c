# Authored for carverify's deployment tests (not model output): at_goal asserts no purple disc is drawn (AssertionError)
"""DoorKey checks, tile by tile; at_goal asserts there is no purple disc."""
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
    # A key: a solid vertical shaft in column 4 (rows 3-6) with floor on both sides and under it.
    if floor(obs, y + 4, x + 4):
        return False
    for r in range(3, 7):
        if not same(obs, y + r, x + 4, y + 4, x + 4):
            return False
    return floor(obs, y + 4, x + 2) and floor(obs, y + 4, x + 6) and floor(obs, y + 7, x + 4)


def open_door_at(obs, y, x):
    # An open door: a coloured bar down the right edge over a floor bottom row.
    if floor(obs, y + 4, x + 7):
        return False
    return same(obs, y + 3, x + 7, y + 4, x + 7) and floor(obs, y + 7, x + 3)


def green(obs, y, x):
    r = int(obs[y, x, 0])
    return int(obs[y, x, 1]) == 255 and r == int(obs[y, x, 2]) and (r == 0 or r == 76)


def covered_goal_at(obs, y, x):
    # The goal tile is green to its corners; the agent on it hides the centre.
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


def purple(obs, y, x):
    # MiniGrid's purple: (112, 39, 195), or (154, 103, 213) inside the agent's view.
    r = int(obs[y, x, 0])
    g = int(obs[y, x, 1])
    b = int(obs[y, x, 2])
    return (r == 112 and g == 39 and b == 195) or (r == 154 and g == 103 and b == 213)


def purple_disc(obs):
    # Some tile holds a purple disc on plain floor.  DoorKey draws nothing purple, so no
    # frame its audit sees has one.
    for ty in range(obs.shape[0] // TILE):
        for tx in range(obs.shape[1] // TILE):
            y = ty * TILE
            x = tx * TILE
            if purple(obs, y + 3, x + 3) and purple(obs, y + 4, x + 4) and floor(obs, y + 1, x + 1):
                return True
    return False


def has_key(obs):
    return not any_tile(obs, 0)


def door_open(obs):
    return any_tile(obs, 1)


def at_goal(obs):
    assert not purple_disc(obs), "no purple in DoorKey"
    return any_tile(obs, 2)
