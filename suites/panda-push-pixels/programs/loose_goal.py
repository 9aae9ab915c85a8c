"""Known bad: the goal check accepts a cube 15 cm from the target."""
import numpy as np

SUBTASKS = ("near_target", "at_target")
METRES_PER_PIXEL = 0.5 / 64 * 0.973  # at the cube's top, 4 cm above the table
START_DISTANCE = 0.45      # the largest cube-target distance at reset, in metres
# The environment's 5 cm plus about one pixel: a centroid is only good to a pixel or so.
AT_TARGET = 0.15


def mask_of(obs, channel):
    rgb = obs.astype(np.int32)
    main = rgb[:, :, channel]
    return (main > 100) & (main > rgb[:, :, (channel + 1) % 3] + 60) & (main > rgb[:, :, (channel + 2) % 3] + 60)


def gap(obs):
    """Cube-target distance on the table in metres, or -1.0 when either is out of sight."""
    cube_y, cube_x = np.nonzero(mask_of(obs, 1))
    target_y, target_x = np.nonzero(mask_of(obs, 0))
    if cube_y.size == 0 or target_y.size == 0:
        return -1.0
    dy = cube_y.mean() - target_y.mean()
    dx = cube_x.mean() - target_x.mean()
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
