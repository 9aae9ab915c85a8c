"""KNOWN BAD (authored): centroid checks like box_centroids.py, but the block counts as in the box
when it is within 12 pixels (0.105 m) of its centre: a block resting against a wall outside counts."""
import numpy as np

SUBTASKS = ("block_near_box", "block_in_box")
PIXEL = 0.00875            # metres a pixel on the table
HALF_ROWS = 0.06 / PIXEL   # the box's inside, either side of its centre, along image up-down
HALF_COLS = 0.05 / PIXEL   # and along image left-right
NEAR = 0.15 / PIXEL


def offset(obs):
    """Rows and columns from the box's centroid to the block's; found = 0.0 when either is unseen."""
    img = obs.astype(np.int32)
    lead = img[:, :, 0] - np.maximum(img[:, :, 1], img[:, :, 2])
    by, bx = np.nonzero(lead > 100)
    wy, wx = np.nonzero((lead > 25) & (lead < 90))
    if by.size == 0 or wy.size == 0:
        return 0.0, 0.0, 0.0
    return 1.0, by.mean() - wy.mean(), bx.mean() - wx.mean()


def block_near_box(obs):
    found, dr, dc = offset(obs)
    return bool(found > 0.0 and dr * dr + dc * dc < NEAR * NEAR)


def block_in_box(obs):
    found, dr, dc = offset(obs)
    return bool(found > 0.0 and dr * dr + dc * dc < 12.0 * 12.0)
