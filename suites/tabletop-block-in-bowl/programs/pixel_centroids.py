"""Block in bowl, pixels: each block is its saturated colour, each bowl a pale tint of it; a block is
in its bowl when the two centroids are closer than the bowl's inner radius."""
import numpy as np

SUBTASKS = ("red_in_bowl", "green_in_bowl", "blue_in_bowl", "all_blocks_placed")
INNER_RADIUS_PX = 7.0   # 0.06 m at 8.75 mm a pixel, plus a little for a block's top, 4 cm nearer the camera


def lead(obs, c):
    """How far channel c stands above the brighter of the other two, per pixel: over 100 on a
    block of colour c, 25 to 90 on its pale bowl, about 0 on the grey table."""
    img = obs.astype(np.int32)
    return img[:, :, c] - np.maximum(img[:, :, (c + 1) % 3], img[:, :, (c + 2) % 3])


def in_bowl(obs, c):
    pale = lead(obs, c)
    by, bx = np.nonzero(pale > 100)
    wy, wx = np.nonzero((pale > 25) & (pale < 90))
    if by.size == 0 or wy.size == 0:
        return False
    dy = by.mean() - wy.mean()
    dx = bx.mean() - wx.mean()
    return bool(dy * dy + dx * dx < INNER_RADIUS_PX * INNER_RADIUS_PX)


def red_in_bowl(obs):
    return in_bowl(obs, 0)


def green_in_bowl(obs):
    return in_bowl(obs, 1)


def blue_in_bowl(obs):
    return in_bowl(obs, 2)


def all_blocks_placed(obs):
    return in_bowl(obs, 0) and in_bowl(obs, 1) and in_bowl(obs, 2)
