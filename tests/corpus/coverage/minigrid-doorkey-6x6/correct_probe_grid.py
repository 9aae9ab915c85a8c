# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: correct -- vectorised probes of fixed pixels in every 8x8 tile.
"""DoorKey: read three pixels of every tile at once and decide from their colours."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def pixels_at(obs, row, col):
    """The pixel (row, col) of every tile, shape (tiles_y, tiles_x, 3), as ints."""
    return obs[row::TILE, col::TILE, :].astype(np.int32)


def yellowish(p):
    return (p[:, :, 0] > 100) & (p[:, :, 1] > 100) & (p[:, :, 2] < p[:, :, 0] - 50)


def has_key(obs):
    # The key's shaft is pure yellow (255, 255, 0), or (255, 255, 76) in the agent's view;
    # nothing else in the frame is that bright.  A carried key is not drawn.
    shaft = pixels_at(obs, 4, 4)
    key = (shaft[:, :, 0] == 255) & (shaft[:, :, 1] == 255) & (shaft[:, :, 2] < 100)
    return not bool(key.any())


def door_open(obs):
    # Locked and closed doors draw a yellow frame down the tile's left edge; an open
    # door is only a bar on the right edge, so no tile has a yellow left edge then.
    left_edge = pixels_at(obs, 4, 0)
    return not bool(yellowish(left_edge).any())


def at_goal(obs):
    # The goal fills its tile with green; the agent on it leaves the corners green and
    # paints the centre red.
    corner = pixels_at(obs, 7, 7)
    centre = pixels_at(obs, 4, 4)
    green = (corner[:, :, 1] > 200) & (corner[:, :, 0] < 100) & (corner[:, :, 2] < 100)
    red = (centre[:, :, 0] > 200) & (centre[:, :, 1] < 100) & (centre[:, :, 2] < 100)
    return bool((green & red).any())
