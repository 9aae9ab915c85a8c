"""Slide, pixels: the puck is the green disc, the target the red square; checks compare their centroids."""
import numpy as np

SUBTASKS = ("near_target", "at_target")
METRES_PER_PIXEL = 0.6 / 64 * 0.975  # at the puck's top, 3 cm above the table
START_DISTANCE = 0.8       # the largest puck-target distance at reset, in metres
# The environment's 5 cm plus a little: the centroid estimate is good to about 3 mm here.
AT_TARGET = 0.0515


def mask_of(obs, channel):
    rgb = obs.astype(np.int32)
    main = rgb[:, :, channel]
    return (main > 100) & (main > rgb[:, :, (channel + 1) % 3] + 60) & (main > rgb[:, :, (channel + 2) % 3] + 60)


def gap(obs):
    """Puck-target distance on the table in metres, or -1.0 when either is out of sight."""
    puck_y, puck_x = np.nonzero(mask_of(obs, 1))
    target_y, target_x = np.nonzero(mask_of(obs, 0))
    if puck_y.size == 0 or target_y.size == 0:
        return -1.0
    dy = puck_y.mean() - target_y.mean()
    dx = puck_x.mean() - target_x.mean()
    return np.sqrt(dy * dy + dx * dx) * METRES_PER_PIXEL


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
