"""Frames as text, for models that cannot see images: what each frame's pixels show, in words.

Each adapter reads its own kind of frame (carverify/envs: MiniGrid tile by tile against
MiniGrid's renderer, Panda by colour); any other RGB suite gets the generic reading here,
its main colours and where they lie, so a text-only model can still be used on a user's
own environment.
"""
from __future__ import annotations

import numpy as np


def frame_text(suite, frame: np.ndarray) -> str:
    """The rendering for this suite's kind of frame."""
    return suite.adapter.frame_text(suite, frame) or colour_text(frame)


def colour_text(frame: np.ndarray, most: int = 8, least: float = 0.005) -> str:
    """The frame's main colours (at least `least` of its pixels), each with its share and extent."""
    frame = np.asarray(frame)
    h, w = frame.shape[:2]
    pixels = frame.reshape(-1, frame.shape[-1])[:, :3]
    colours, inverse, counts = np.unique(pixels, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(h, w)
    lines = [f"{h}x{w} pixels (row 0 at the top, column 0 at the left); its main colours (RGB):"]
    for i in np.argsort(-counts, kind="stable")[:most]:
        if counts[i] < least * h * w:
            break
        rows, cols = np.nonzero(inverse == i)
        rgb = tuple(int(v) for v in colours[i])
        lines.append(f"- {rgb} {colour_name(rgb)}: {100 * counts[i] / (h * w):.1f}% of the pixels, "
                     f"rows {rows.min()}-{rows.max()}, columns {cols.min()}-{cols.max()}, "
                     f"centre at row {rows.mean():.1f}, column {cols.mean():.1f}")
    return "\n".join(lines)


# Hue sectors (degrees, upper bound) and their names.
_HUES = ((15, "red"), (45, "orange"), (70, "yellow"), (160, "green"), (200, "cyan"), (255, "blue"),
         (290, "purple"), (335, "magenta"), (360, "red"))


def colour_name(rgb) -> str:
    """A word for an RGB colour: measured why, the 1.5B model read an unnamed list of a
    tabletop frame's colours in order as "red, green, blue" and matched the grey table as
    the red block.  Bowls drawn as pale tints come out "pale red", shaded ones "dark red"."""
    r, g, b = (float(v) / 255.0 for v in rgb[:3])
    high, low = max(r, g, b), min(r, g, b)
    chroma = high - low
    if chroma < 0.08 or (high > 0 and chroma / high < 0.12):
        return "(black)" if high < 0.15 else "(white)" if high > 0.85 else "(grey)"
    if high == r:
        hue = (60 * (g - b) / chroma) % 360
    elif high == g:
        hue = 60 * (b - r) / chroma + 120
    else:
        hue = 60 * (r - g) / chroma + 240
    name = next(word for bound, word in _HUES if hue < bound or bound == 360)
    saturation = chroma / high
    shade = "pale " if saturation < 0.45 and high > 0.6 else "dark " if high < 0.45 else "dull " if saturation < 0.45 else ""
    return f"({shade}{name})"
