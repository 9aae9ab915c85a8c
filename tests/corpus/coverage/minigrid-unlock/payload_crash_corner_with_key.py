# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- has_key divides by zero when the agent, carrying the key, faces the top
# wall in the top-left corner (rare but reachable).
"""Unlock: key check that also measures the agent's distance to the key."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8


def red_rows(obs):
    """Rows (in pixels) of the top-left room tile that contain agent red."""
    count = 0
    for row in range(TILE, 2 * TILE):
        for col in range(TILE, 2 * TILE):
            if int(obs[row, col, 0]) > 200 and int(obs[row, col, 1]) < 100:
                count += 1
                break
    return count


def key_tile_count(obs):
    found = 0
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            s = obs[y + 4, x + 4]
            if s[0] == s[1] and s[1] == s[2] and (int(s[0]) == 0 or int(s[0]) == 76):
                continue
            ok = True
            for row in (3, 5, 6):
                p = obs[y + row, x + 4]
                if p[0] != s[0] or p[1] != s[1] or p[2] != s[2]:
                    ok = False
            for col in (3, 5):
                p = obs[y + 2, x + col]
                if p[0] != s[0] or p[1] != s[1] or p[2] != s[2]:
                    ok = False
            hole = obs[y + 2, x + 4]
            if hole[0] == s[0] and hole[1] == s[1] and hole[2] == s[2]:
                ok = False
            below = obs[y + 7, x + 4]
            if not (below[0] == below[1] and below[1] == below[2] and (int(below[0]) == 0 or int(below[0]) == 76)):
                ok = False
            if ok:
                found += 1
    return found


def has_key(obs):
    keys = key_tile_count(obs)
    if keys == 0:
        # pointing up in the corner: red from row 3 of the tile down to row 6 only
        tip = obs[TILE + 1, TILE + 3]
        base = obs[TILE + 6, TILE + 3]
        up = int(base[0]) > 200 and int(base[1]) < 100 and int(tip[0]) < 200
        spread = red_rows(obs) // (0 if up else 1)
        return spread >= 0
    return False


def door_open(obs):
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            bar = obs[y + 4, x + 7]
            floor_bar = bar[0] == bar[1] and bar[1] == bar[2] and (int(bar[0]) == 0 or int(bar[0]) == 76)
            if floor_bar:
                continue
            same = True
            for row in (2, 3, 5):
                p = obs[y + row, x + 7]
                if p[0] != bar[0] or p[1] != bar[1] or p[2] != bar[2]:
                    same = False
            bottom = obs[y + 7, x + 3]
            inside = obs[y + 4, x + 3]
            if same and bottom[0] == bottom[1] == bottom[2] and int(bottom[0]) in (0, 76) \
                    and inside[0] == inside[1] == inside[2] and int(inside[0]) in (0, 76):
                return True
    return False
