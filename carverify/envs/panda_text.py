"""Panda pixel frames as text, for models that cannot see images: read by colour, the cube's
and the target's centroids and sizes (carverify/generate/frames_text.py)."""
from __future__ import annotations

import numpy as np


# Colours as PyBullet's TinyRenderer draws them (shaded, so thresholds).
def _green(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.int32)
    return (f[..., 1] > 90) & (f[..., 1] > f[..., 0] + 40) & (f[..., 1] > f[..., 2] + 40)


def _red(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.int32)
    return (f[..., 0] > 120) & (f[..., 0] > f[..., 1] + 60) & (f[..., 0] > f[..., 2] + 60)


def blob(mask: np.ndarray) -> tuple[float, float, int, tuple[int, int, int, int]] | None:
    """(row, column) centroid, pixel count and bounding box (r0, c0, r1, c1) of a mask, or None."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return None
    return (float(rows.mean()), float(cols.mean()), int(len(rows)),
            (int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())))


def panda_text(frame: np.ndarray, metres_per_pixel: float) -> str:
    """Where the green cube and the red target are, in pixels, and how far apart."""
    frame = np.asarray(frame)
    h, w = frame.shape[:2]
    lines = [f"{h}x{w} pixels (row 0 at the top, column 0 at the left), about "
             f"{metres_per_pixel * 1000:.1f} mm of table per pixel:"]
    found = {}
    for name, mask in (("green cube", _green(frame)), ("red target", _red(frame))):
        b = blob(mask)
        found[name] = b
        if b is None:
            lines.append(f"- {name}: not visible" + (" (covered by the cube)" if name == "red target" else ""))
            continue
        r, c, n, (r0, c0, r1, c1) = b
        lines.append(f"- {name}: centre at row {r:.1f}, column {c:.1f}; {n} pixels, "
                     f"rows {r0}-{r1}, columns {c0}-{c1}")
    cube, target = found["green cube"], found["red target"]
    if cube and target:
        d = float(np.hypot(cube[0] - target[0], cube[1] - target[1]))
        lines.append(f"- cube centre to target centre: {d:.1f} pixels (about {d * metres_per_pixel:.3f} m)")
    return "\n".join(lines)
