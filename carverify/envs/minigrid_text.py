"""MiniGrid frames as text, for models that cannot see images (carverify/generate/frames_text.py).

Each tile is matched against MiniGrid's own tile renderer (every object, colour, door
state, agent direction, highlighted or not), so the grid printed is recovered from the
pixels alone, never from the simulator's state.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DIRECTIONS = ("east", "south", "west", "north")   # MiniGrid agent_dir 0..3
AGENT_MARK = (">", "v", "<", "^")
LEGEND = ("W wall, . floor, K key, O ball, B box, D locked door, d closed door, / open door, "
          "G goal, L lava; > v < ^ the agent facing east, south, west, north")
_MARK = {"wall": "W", "key": "K", "ball": "O", "box": "B", "goal": "G", "lava": "L"}


@dataclass(frozen=True)
class Tile:
    kind: str                    # "floor", "wall", "key", "door", "goal", ...
    color: str | None = None
    state: str | None = None     # doors: "locked", "closed", "open"
    agent: int | None = None     # the agent's direction if it stands here
    highlighted: bool = False
    distance: int = 0            # L1 distance to the best reference tile (0 = exact)

    @property
    def mark(self) -> str:
        if self.agent is not None:
            return AGENT_MARK[self.agent]
        if self.kind == "door":
            return {"locked": "D", "closed": "d", "open": "/"}[self.state]
        return _MARK.get(self.kind, ".")

    def words(self) -> str:
        if self.kind == "door":
            return f"{self.color} door ({self.state})"
        return f"{self.color} {self.kind}" if self.color and self.kind not in ("wall", "lava") else self.kind


@lru_cache(maxsize=4)
def _references(tile_size: int) -> tuple[np.ndarray, tuple[Tile, ...]]:
    """Every tile MiniGrid can draw at this size: (N, ts, ts, 3) int16 pixels and what each shows."""
    from minigrid.core.constants import COLOR_NAMES
    from minigrid.core.grid import Grid
    from minigrid.core.world_object import Ball, Box, Door, Goal, Key, Lava, Wall

    objects: list[tuple[object, Tile]] = [(None, Tile("floor")), (Wall(), Tile("wall")),
                                          (Goal(), Tile("goal", "green")), (Lava(), Tile("lava"))]
    for color in COLOR_NAMES:
        objects += [(Key(color), Tile("key", color)), (Ball(color), Tile("ball", color)),
                    (Box(color), Tile("box", color))]
        for state in ("locked", "closed", "open"):
            objects.append((Door(color, is_open=state == "open", is_locked=state == "locked"),
                            Tile("door", color, state)))
    pixels, tiles = [], []
    for obj, tile in objects:
        # The agent stands only on tiles it can enter: floor, goal, open doors (and lava, once).
        stands = obj is None or tile.kind in ("goal", "lava") or tile.state == "open"
        for agent in (None, *range(4)) if stands else (None,):
            for highlight in (False, True):
                pixels.append(Grid.render_tile(obj, agent_dir=agent, highlight=highlight, tile_size=tile_size))
                tiles.append(Tile(tile.kind, tile.color, tile.state, agent, highlight))
    return np.stack(pixels).astype(np.int16), tuple(tiles)


def read_grid(frame: np.ndarray, tile_size: int) -> list[list[Tile]]:
    """The tiles of a MiniGrid frame, row by row, each matched to its nearest reference tile."""
    frame = np.asarray(frame)
    rows, cols = frame.shape[0] // tile_size, frame.shape[1] // tile_size
    refs, tiles = _references(tile_size)
    flat = refs.reshape(len(tiles), -1)
    grid = []
    for r in range(rows):
        row = []
        for c in range(cols):
            patch = frame[r * tile_size:(r + 1) * tile_size, c * tile_size:(c + 1) * tile_size].astype(np.int16)
            distances = np.abs(flat - patch.reshape(1, -1)).sum(axis=1)
            best = int(np.argmin(distances))
            t = tiles[best]
            row.append(Tile(t.kind, t.color, t.state, t.agent, t.highlighted, int(distances[best])))
        grid.append(row)
    return grid


def minigrid_text(frame: np.ndarray, tile_size: int) -> str:
    """A tile map, the objects with their positions, and the highlighted field of view."""
    grid = read_grid(frame, tile_size)
    rows, cols = len(grid), len(grid[0]) if grid else 0
    width = len(str(max(rows, cols) - 1))
    header = " " * (width + 2) + " ".join(f"{c:>{width}}" for c in range(cols))
    lines = [f"{rows} rows x {cols} columns of {tile_size}x{tile_size}-pixel tiles "
             "(row 0 at the top, column 0 at the left):", header]
    for r, row in enumerate(grid):
        lines.append(f"{r:>{width}}  " + " ".join(f"{t.mark:>{width}}" for t in row))
    lines.append(f"Legend: {LEGEND}.")
    objects = []
    for r, row in enumerate(grid):
        for c, t in enumerate(row):
            if t.agent is not None:
                objects.append(f"the agent (red triangle) at row {r}, column {c}, facing {DIRECTIONS[t.agent]}"
                               + (f", standing on the {t.words()}" if t.kind != "floor" else ""))
            if t.kind not in ("floor", "wall") and t.agent is None:
                objects.append(f"{t.words()} at row {r}, column {c}")
    lines.append("Objects: " + ("; ".join(objects) if objects else "none") + ".")
    lit = [(r, c) for r, row in enumerate(grid) for c, t in enumerate(row) if t.highlighted]
    if lit:
        lines.append("Highlighted tiles (the agent's field of view, every pixel blended 30% towards white):")
        for r, row in enumerate(grid):
            marks = "".join("*" if t.highlighted else "-" for t in row)
            if "*" in marks:
                lines.append(f"  row {r}: {marks}")
    return "\n".join(lines)
