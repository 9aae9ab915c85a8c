"""Scripted separate-piles expert: the first block (red, red, blue, blue) not in its colour's zone goes
to that zone, the first block of a colour 3 cm left of the zone's centre, the second 3 cm right.
It reads the simulator; tabletop-separate-piles-state uses this file too."""
import numpy as np


def act(env):
    u = env.unwrapped
    blocks, zones, done = u.block_positions(), u.receptacle_positions(), u.in_zone()
    i = int(np.argmin(done))   # the first block still out (argmin of a bool array: the first False)
    zone = zones[i // 2]
    return np.array([blocks[i, 0], blocks[i, 1], zone[0], zone[1] + (0.03 if i % 2 == 0 else -0.03)])
