"""Style: type annotations and docstrings everywhere.

Every function is annotated (``def has_key(obs: np.ndarray) -> bool:``) and
documented; helpers annotate their integer and array parameters too.  Annotations
carry no behaviour -- the checks are the same tile/colour logic as the other styles.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8


def colour_mask(obs: np.ndarray, r_min: int, g_min: int, b_max: int) -> np.ndarray:
    """Pixels whose red >= r_min, green >= g_min and blue <= b_max."""
    rgb = obs.astype(np.int32)
    return (rgb[:, :, 0] >= r_min) & (rgb[:, :, 1] >= g_min) & (rgb[:, :, 2] <= b_max)


def per_tile(mask: np.ndarray) -> np.ndarray:
    """Count of True pixels in every 8x8 tile."""
    rows: int = mask.shape[0] // TILE
    cols: int = mask.shape[1] // TILE
    return mask.reshape(rows, TILE, cols, TILE).sum(axis=3).sum(axis=1)


def has_key(obs: np.ndarray) -> bool:
    """The key (saturated yellow) is no longer on the floor.

    MiniGrid stops drawing an object once the agent carries it, so the key's
    pixels vanish from the full-grid frame at the moment it is picked up.
    """
    return bool(per_tile(colour_mask(obs, 230, 230, 120)).max() < 4)


def door_open(obs: np.ndarray) -> bool:
    """No tile has a door-yellow bottom frame.

    Locked doors are filled with dark yellow and framed; closed (unlocked) doors are
    framed; an open door is drawn as a thin strip on its tile's right edge only.
    """
    rgb: np.ndarray = obs.astype(np.int32)
    edge: np.ndarray = rgb[TILE - 1::TILE]
    yellow = (edge[:, :, 0] >= 150) & (edge[:, :, 1] >= 150) & (edge[:, :, 2] + 60 <= edge[:, :, 0])
    inner = yellow.reshape(yellow.shape[0], yellow.shape[1] // TILE, TILE)[:, :, 0:TILE - 2]
    return bool(inner.sum(axis=2).max() < 3)


def at_goal(obs: np.ndarray) -> bool:
    """The agent (red) is drawn on the goal tile (green)."""
    rgb: np.ndarray = obs.astype(np.int32)
    green = (rgb[:, :, 1] >= 200) & (rgb[:, :, 0] <= 120) & (rgb[:, :, 2] <= 120)
    red = (rgb[:, :, 0] >= 200) & (rgb[:, :, 1] <= 120) & (rgb[:, :, 2] <= 120)
    return bool(((per_tile(green) > 0) & (per_tile(red) > 0)).any())
