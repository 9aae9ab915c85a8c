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
        lines.append(f"- {tuple(int(v) for v in colours[i])}: {100 * counts[i] / (h * w):.1f}% of the pixels, "
                     f"rows {rows.min()}-{rows.max()}, columns {cols.min()}-{cols.max()}, "
                     f"centre at row {rows.mean():.1f}, column {cols.mean():.1f}")
    return "\n".join(lines)
