"""Style: module-level constants -- ints, tuples, strings and np.array colours.

Colours are named constants and pixels are matched by their L1 distance to the
reference colour, which tolerates the field-of-view highlight (+30% towards white).
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
GRID = (5, 5)
TILE_PIXELS = TILE * TILE
KEY_YELLOW = np.array([255, 255, 0])
GOAL_GREEN = np.array([0, 255, 0])
AGENT_RED = np.array((255, 0, 0))
DOOR_FILL = np.array((114, 114, 0))
KEY_TOLERANCE = 90
GOAL_TOLERANCE = 160
DOOR_TOLERANCE = 130
MIN_KEY_PIXELS = 4
MIN_DOOR_FILL = 12
DESCRIPTION = "DoorKey: pick up the key, open the door, reach the goal"


def distance(obs, colour):
    """L1 distance of every pixel to a reference colour."""
    diff = obs.astype(np.int32) - colour.astype(np.int32).reshape(1, 1, 3)
    return np.abs(diff).sum(axis=2)


def has_key(obs):
    """Fewer than MIN_KEY_PIXELS pixels are close to KEY_YELLOW."""
    return bool(np.count_nonzero(distance(obs, KEY_YELLOW) <= KEY_TOLERANCE) < MIN_KEY_PIXELS)


def door_open(obs):
    """A locked door's tile is filled with DOOR_FILL; an open door has no fill.

    A door that was unlocked and closed again has a dark interior but keeps its
    yellow frame, so the frame colour along the tiles' left columns counts as well.
    """
    fill = np.count_nonzero(distance(obs, DOOR_FILL) <= DOOR_TOLERANCE // 3)
    rgb = obs.astype(np.int32)
    left = rgb[:, 0::TILE, :]
    frame = (left[:, :, 0] >= 150) & (left[:, :, 1] >= 150) & (left[:, :, 2] + 60 <= left[:, :, 0])
    rows = np.arange(obs.shape[0]) % TILE
    frame = frame & ((rows > 0) & (rows < TILE - 1)).reshape(obs.shape[0], 1)
    return bool(fill < MIN_DOOR_FILL and np.count_nonzero(frame) < 4)


def at_goal(obs):
    """Some goal green is visible but less than a full tile of it: the agent covers part."""
    green = np.count_nonzero(distance(obs, GOAL_GREEN) <= GOAL_TOLERANCE)
    red = np.count_nonzero(distance(obs, AGENT_RED) <= GOAL_TOLERANCE)
    return bool(0 < green < TILE_PIXELS and red > 0)
