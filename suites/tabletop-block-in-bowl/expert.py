"""Scripted block-in-bowl expert: the first block (red, green, blue) not yet in its bowl goes to
that bowl's centre.  It reads the simulator; tabletop-block-in-bowl-state uses this file too."""
import numpy as np


def act(env):
    u = env.unwrapped
    blocks, bowls, done = u.block_positions(), u.receptacle_positions(), u.in_bowl()
    i = int(np.argmin(done))   # the first block still out (argmin of a bool array: the first False)
    return np.array([blocks[i, 0], blocks[i, 1], bowls[i, 0], bowls[i, 1]])
