"""Reads a few fixed pixels of every 8x8 tile: colours for the key, door and goal."""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def probe(obs, row, col):
    # The pixel at (row, col) inside every tile, as an (H, W, 3) view.
    h = obs.shape[0] // TILE
    w = obs.shape[1] // TILE
    return obs[row:h * TILE:TILE, col:w * TILE:TILE, :]


def yellow(p, low):
    return (p[:, :, 0] >= low) & (p[:, :, 1] >= low) & (p[:, :, 2] <= 100)


def has_key(obs):
    # A key tile is the only one with full-strength yellow at its centre; a locked
    # door's centre is dark yellow.  A carried key is not drawn at all.
    return not bool(yellow(probe(obs, 4, 4), 230).any())


def door_open(obs):
    # An open door is a yellow bar on the tile's right edge over plain floor; a closed
    # or locked door also colours the bottom row.
    bar = yellow(probe(obs, 4, 7), 150)
    floor = probe(obs, 7, 3)
    plain = (floor[:, :, 0] == floor[:, :, 1]) & (floor[:, :, 1] == floor[:, :, 2])
    return bool((bar & plain).any())


def at_goal(obs):
    # The agent's red triangle covers the centre of its tile; the green goal still
    # shows in the corners around it.
    corner = probe(obs, 7, 7)
    centre = probe(obs, 4, 4)
    green = (corner[:, :, 1] >= 200) & (corner[:, :, 0] <= 100) & (corner[:, :, 2] <= 100)
    red = (centre[:, :, 0] >= 200) & (centre[:, :, 1] <= 100) & (centre[:, :, 2] <= 100)
    return bool((green & red).any())
