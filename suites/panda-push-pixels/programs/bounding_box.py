"""Known bad: locates the cube by its bounding box, which fails when no green pixel is in view."""
import numpy as np

SUBTASKS = ("near_target", "at_target")
METRES_PER_PIXEL = 0.5 / 64 * 0.973  # at the cube's top, 4 cm above the table (7.8 mm on the table top)
START_DISTANCE = 0.45      # the largest cube-target distance at reset, in metres
# The environment's 5 cm plus about one pixel: a centroid is only good to a pixel or so.
AT_TARGET = 0.054


def centre(obs, main, other):
    """Mean row and column of the pixels bright in channel `main` and dim in the other two."""
    ys, xs = np.nonzero((obs[:, :, main] > 100) & (obs[:, :, other] < 100) & (obs[:, :, 2] < 100))
    return (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2


def gap(obs):
    """Cube-target distance in metres (green cube, red target), or -1.0 when either is out of sight."""
    cube_y, cube_x = centre(obs, 1, 0)
    target_y, target_x = centre(obs, 0, 1)
    if cube_y < 0.0 or target_y < 0.0:
        return -1.0
    return np.sqrt((cube_y - target_y) ** 2 + (cube_x - target_x) ** 2) * METRES_PER_PIXEL


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
