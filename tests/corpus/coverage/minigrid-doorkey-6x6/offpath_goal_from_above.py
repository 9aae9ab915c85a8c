# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: off_path -- the goal reached from an unusual direction (from the left) is missed.
"""DoorKey: the agent walks down onto the goal, so the triangle's base lies along the top
of the goal tile while its corners stay green."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
GOAL_GREEN_MIN = 200
AGENT_RED_MIN = 200


def has_key(obs):
    shaft = obs[4::TILE, 4::TILE, :]
    return not bool(((shaft[:, :, 0] == 255) & (shaft[:, :, 1] == 255)).any())


def door_open(obs):
    edge = obs[4::TILE, 0::TILE, :].astype(np.int32)
    framed = (edge[:, :, 0] > 100) & (edge[:, :, 0] == edge[:, :, 1]) & (edge[:, :, 2] + 50 < edge[:, :, 0])
    return not bool(framed.any())


def at_goal(obs):
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    for ty in range(rows):
        for tx in range(cols):
            y = ty * TILE
            x = tx * TILE
            corner = obs[y + 7, x + 7]
            if not (corner[1] > GOAL_GREEN_MIN and corner[0] < 100):
                continue
            # base of the triangle: row 1, columns 2-5 are red when it points down
            base = obs[y + 1, x + 2:x + 6]
            if bool(np.all(base[:, 0] > AGENT_RED_MIN)) and bool(np.all(base[:, 1] < 120)):
                return True
    return False
