"""Slide, pixels: the puck is the green disc, the target the red square; checks compare their centroids."""
import numpy as np

SUBTASKS = ("near_target", "at_target")
METRES_PER_PIXEL = 0.6 / 64 * 0.975  # at the puck's top, 3 cm above the table (9.4 mm on the table top)
START_DISTANCE = 0.8       # the largest puck-target distance at reset, in metres
# The environment's 5 cm plus a little: the centroid estimate is good to about 3 mm here.
AT_TARGET = 0.0515


def centre(obs, main, other):
    """Mean row and column of the pixels bright in channel `main` and dim in the other two."""
    ys, xs = np.nonzero((obs[:, :, main] > 100) & (obs[:, :, other] < 100) & (obs[:, :, 2] < 100))
    if ys.size == 0:
        return -1.0, -1.0
    return ys.mean(), xs.mean()


def gap(obs):
    """Puck-target distance in metres (green puck, red target), or -1.0 when either is out of sight."""
    puck_y, puck_x = centre(obs, 1, 0)
    target_y, target_x = centre(obs, 0, 1)
    if puck_y < 0.0 or target_y < 0.0:
        return -1.0
    return np.sqrt((puck_y - target_y) ** 2 + (puck_x - target_x) ** 2) * METRES_PER_PIXEL


def near_target(obs):
    d = gap(obs)
    return bool(d >= 0.0 and d < 0.10)


def at_target(obs):
    d = gap(obs)
    return bool(d >= 0.0 and d < AT_TARGET)


def progress(obs):
    d = gap(obs)
    if d < 0.0:
        return 0.0
    return float(min(max(1.0 - d / START_DISTANCE, 0.0), 1.0))
