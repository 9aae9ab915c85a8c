# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- a dict of reference colours, tuple comparisons, h, w, _ = obs.shape.
"""DoorKey: match exact palette colours (plain and lightened by the agent's view)."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
PALETTE = {
    "key": (255, 255, 0),
    "key_lit": (255, 255, 76),
    "goal": (0, 255, 0),
    "goal_lit": (76, 255, 76),
}


def has_key(obs):
    h, w, _ = obs.shape
    for y in range(4, h, TILE):
        for x in range(4, w, TILE):
            pixel = tuple(obs[y, x])
            if pixel == PALETTE["key"] or pixel == PALETTE["key_lit"]:
                return False
    return True


def door_open(obs):
    # The door frame's left edge (plain 161/170 or lightened 189/195) is gone once open.
    h, w, _ = obs.shape
    for y in range(4, h, TILE):
        for x in range(0, w, TILE):
            r, g, b = obs[y, x]
            if int(r) == int(g) and int(r) > 140 and int(b) < 100:
                return False
    return True


def at_goal(obs):
    h, w, _ = obs.shape
    for y in range(0, h, TILE):
        for x in range(0, w, TILE):
            corner = tuple(obs[y + TILE - 1, x + TILE - 1])
            if corner == PALETTE["goal"] or corner == PALETTE["goal_lit"]:
                r = int(obs[y + 4, x + 4, 0])
                g = int(obs[y + 4, x + 4, 1])
                if r > 200 and g < 100:
                    return True
    return False
