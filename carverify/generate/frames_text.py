"""Frames as text, for models that cannot see images: what each frame's pixels show, in words.

Each adapter reads its own kind of frame (carverify/envs: MiniGrid tile by tile against
MiniGrid's renderer, Panda by colour); any other RGB suite gets the generic reading here,
its main colours and where they lie, so a text-only model can still be used on a user's
own environment.
"""
from __future__ import annotations

import numpy as np

from carverify.errors import UsageError


def frame_text(suite, frame: np.ndarray) -> str:
    """The rendering for this suite's kind of frame."""
    return suite.adapter.frame_text(suite, frame) or colour_text(frame)


def colour_text(frame: np.ndarray, most: int = 8, least: float = 0.005) -> str:
    """The frame's main colours (at least `least` of its pixels), each with its share and extent."""
    frame, scale, space = _channels(frame)
    h, w = frame.shape[:2]
    pixels = frame.reshape(h * w, -1)
    colours, inverse, counts = np.unique(pixels, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(h, w)
    lines = [f"{h}x{w} pixels (row 0 at the top, column 0 at the left); its main colours ({space}):"]
    for i in np.argsort(-counts, kind="stable")[:most]:
        if counts[i] < least * h * w:
            break
        rows, cols = np.nonzero(inverse == i)
        value = tuple(v.item() for v in colours[i])
        shown = value if len(value) > 1 else value[0]
        lines.append(f"- {shown} {colour_name(tuple(scale * float(v) for v in value))}: {100 * counts[i] / (h * w):.1f}% of the pixels, "
                     f"rows {rows.min()}-{rows.max()}, columns {cols.min()}-{cols.max()}, "
                     f"centre at row {rows.mean():.1f}, column {cols.mean():.1f}")
    return "\n".join(lines)


def _channels(frame) -> tuple[np.ndarray, float, str]:
    """(frame as H x W x C, C 1 or 3; the factor to 8-bit levels; the name of its colour space).
    A user's own suite may render grey levels (H x W or H x W x 1), RGBA, channels first,
    floats in [0, 1] or a boolean mask; alpha says nothing about what is drawn.  Values are
    shown as the program will see them; only the colour names use the 8-bit scale."""
    frame = np.asarray(frame)
    if frame.ndim not in (2, 3) or 0 in frame.shape:
        raise UsageError(f"a frame must be height x width (x channels) with pixels in it; got shape {frame.shape}")
    if frame.ndim == 3 and frame.shape[0] in (1, 3, 4) and frame.shape[2] not in (1, 2, 3, 4):
        frame = np.moveaxis(frame, 0, -1)      # channels first, as torch renders
    if frame.ndim == 2:
        frame = frame[:, :, None]
    scale = 1.0
    if frame.dtype == bool:
        scale = 255.0
    elif frame.dtype.kind == "f":
        finite = frame[np.isfinite(frame)]
        if finite.size and finite.min() >= 0.0 and finite.max() <= 1.0:
            scale = 255.0                          # floats in [0, 1]
        # Every NaN pixel would count as its own colour (NaN != NaN): one value stands for them all.
        frame = np.where(np.isfinite(frame), np.round(frame, 3), -1.0)
    channels = frame.shape[2]
    if channels == 1:
        return frame, scale, "grey level"
    if channels >= 3:
        return frame[:, :, :3], scale, "RGB" if channels == 3 else "RGB; its alpha channel left out"
    return frame[:, :, :1], scale, "the first of its 2 channels, read as grey"


# Hue sectors (degrees, upper bound) and their names.
_HUES = ((15, "red"), (45, "orange"), (70, "yellow"), (160, "green"), (200, "cyan"), (255, "blue"),
         (290, "purple"), (335, "magenta"), (360, "red"))


def colour_name(rgb) -> str:
    """A word for an RGB colour: measured why, the 1.5B model read an unnamed list of a
    tabletop frame's colours in order as "red, green, blue" and matched the grey table as
    the red block.  Bowls drawn as pale tints come out "pale red", shaded ones "dark red"."""
    values = [float(v) / 255.0 for v in rgb[:3]]
    if not all(np.isfinite(values)) or min(values) < 0.0:
        return "(not a number)" if any(np.isnan(values)) else "(not a colour)"
    r, g, b = values if len(values) == 3 else values[:1] * 3   # fewer channels: a grey level
    high, low = max(r, g, b), min(r, g, b)
    chroma = high - low
    # Below 15% brightness every hue looks black: (30, 5, 5) was named "dark red".
    if high < 0.15 or chroma < 0.08 or chroma / high < 0.12:
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
