"""Style: modifying local arrays -- a copy of the frame and a local counter array.

``m = obs.copy()`` and then ``m[0::8] = 0`` / ``m[:, 0::8] = 0`` erase the grid lines
on the private copy; counters live in a local ``np.zeros`` array updated with
``counts[i] += 1`` and other augmented assignments.  The observation itself is never
written.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def without_grid(obs):
    """A widened copy of the frame with the tile grid lines blanked out."""
    m = obs.copy().astype(np.int32)
    m[0::TILE] = 0
    m[:, 0::TILE] = 0
    return m


def has_key(obs):
    """Count key-yellow pixels on the grid-free copy."""
    m = without_grid(obs)
    key = (m[:, :, 0] >= 230) & (m[:, :, 1] >= 230) & (m[:, :, 2] <= 120)
    total = 0
    total += int(key.sum())
    return total < 4


def door_open(obs):
    """Count door-frame pixels on the bottom row of every tile into a local array."""
    m = obs.copy().astype(np.int32)
    m[:, TILE - 2::TILE] = 0     # drop the two right-most columns of every tile:
    m[:, TILE - 1::TILE] = 0     # an open door keeps its yellow strip there
    edges = m[TILE - 1::TILE]
    counts = np.zeros(edges.shape[0], np.int32)
    for i in range(edges.shape[0]):
        row = edges[i]
        yellow = (row[:, 0] >= 150) & (row[:, 1] >= 150) & (row[:, 2] + 60 <= row[:, 0])
        for x in range(row.shape[0]):
            if yellow[x]:
                counts[i] += 1
    return bool(counts.max() < 3)


def at_goal(obs):
    """Mark goal and agent pixels in a local label image and look for a shared tile."""
    m = obs.astype(np.int32)
    labels = np.zeros((obs.shape[0], obs.shape[1]), np.int32)
    labels[(m[:, :, 1] >= 200) & (m[:, :, 0] <= 120) & (m[:, :, 2] <= 120)] = 1
    labels[(m[:, :, 0] >= 200) & (m[:, :, 1] <= 120) & (m[:, :, 2] <= 120)] = 2
    rows = obs.shape[0] // TILE
    cols = obs.shape[1] // TILE
    seen = np.zeros((rows, cols), np.int32)
    for ty in range(rows):
        for tx in range(cols):
            block = labels[ty * TILE:(ty + 1) * TILE, tx * TILE:(tx + 1) * TILE]
            if (block == 1).any():
                seen[ty, tx] += 1
            if (block == 2).any():
                seen[ty, tx] += 2
    return bool((seen == 3).any())
