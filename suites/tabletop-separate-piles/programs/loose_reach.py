"""KNOWN BAD (authored): like zone_extents.py with a loose reach, 8 pixels (7 cm): a block lying
just outside its zone counts as in it."""
import numpy as np

SUBTASKS = ("red_in_zone", "blue_in_zone", "piles_separated")
# A block whose centre is on a zone's edge reaches 2 to 2.8 cm past it, turned or not: 2.4 cm,
# about 2.7 pixels.
REACH_PX = 8.0


def sorted_into_zone(obs, c):
    img = obs.astype(np.int32)
    lead = img[:, :, c] - np.maximum(img[:, :, (c + 1) % 3], img[:, :, (c + 2) % 3])
    low = np.minimum(np.minimum(img[:, :, 0], img[:, :, 1]), img[:, :, 2])
    by, bx = np.nonzero(lead > 100)
    zy, zx = np.nonzero((lead > 25) & (lead < 90) & (low > 100))
    if by.size == 0 or zy.size == 0:
        return False
    return bool(by.min() >= zy.min() - REACH_PX and by.max() <= zy.max() + REACH_PX
                and bx.min() >= zx.min() - REACH_PX and bx.max() <= zx.max() + REACH_PX)


def red_in_zone(obs):
    return sorted_into_zone(obs, 0)


def blue_in_zone(obs):
    return sorted_into_zone(obs, 2)


def piles_separated(obs):
    return sorted_into_zone(obs, 0) and sorted_into_zone(obs, 2)
