# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: copied -- door_open is the key test again: it fires when the key is picked up.
"""Unlock: once the key has left the floor the door is as good as open."""
import numpy as np

SUBTASKS = ("has_key", "door_open")

TILE = 8


def key_on_floor(obs):
    for y in range(0, obs.shape[0], TILE):
        for x in range(0, obs.shape[1], TILE):
            s = obs[y + 4, x + 4]
            hole = obs[y + 2, x + 4]
            below = obs[y + 7, x + 4]
            if int(s[0]) + int(s[1]) + int(s[2]) == 0:
                continue
            same_shaft = True
            for row in (3, 5, 6):
                p = obs[y + row, x + 4]
                if p[0] != s[0] or p[1] != s[1] or p[2] != s[2]:
                    same_shaft = False
            if not same_shaft:
                continue
            if hole[0] == s[0] and hole[1] == s[1] and hole[2] == s[2]:
                continue
            if below[0] == below[1] and below[1] == below[2] and (int(below[0]) == 0 or int(below[0]) == 76):
                return True
    return False


def has_key(obs):
    return not key_on_floor(obs)


def door_open(obs):
    return not key_on_floor(obs)
