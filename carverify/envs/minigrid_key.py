"""MiniGrid's exact-state memo key for one env, made incrementally: a step re-reads what could have changed.

The key is the one MiniGridAdapter.state_key(env) describes: every cell's obj.encode() (minigrid's
own tile cache keys a tile's pixels by it), the agent's pose and what it carries.  Encoding 25-64
cells in Python every step costs 7-16 µs, as much as everything else CodeReward adds on a memo
hit, so the cells part is kept between steps and recomputed only when one of its inputs changed:

- which object sits in each cell (grid.set, a new grid after reset): one C-level list compare
  against a copy of the cell list;
- for an object whose class keeps WorldObj.encode, that encode reads only its class, `type` and
  `color`: those three are read for every such object each step, by a C-level map;
- any other object (Door, whose state changes in place, or a user's own class) is encoded afresh
  each step.

So a reused cells part is always the encode tuple the full computation would give: the key is as
exact as state_key's.  Cell tuples are numbered by value, process-wide, with numbers never reused,
so equal grids get equal keys across envs and episodes (the memo's cross-episode hits) and a
forgotten number can never name another grid.
"""
from __future__ import annotations

import itertools
from operator import attrgetter

CELL_TABLE_ENTRIES = 100_000   # distinct grids numbered before the table starts afresh (numbers go on)

_numbers: dict[tuple, int] = {}
_next_number = itertools.count()
_type, _color = attrgetter("type"), attrgetter("color")


def _plain_state(objects: list) -> tuple:
    # Three single-attribute maps: a third cheaper than one map building a tuple per object.
    return tuple(map(type, objects)), tuple(map(_type, objects)), tuple(map(_color, objects))


def cells_encoding(cells: list) -> tuple:
    """Every cell's obj.encode() (None for an empty cell), as state_key reads them."""
    return tuple([o.encode() if o is not None else None for o in cells])


def _number(encoding: tuple) -> int:
    number = _numbers.get(encoding)
    if number is None:
        if len(_numbers) >= CELL_TABLE_ENTRIES:
            _numbers.clear()
        number = _numbers[encoding] = next(_next_number)
    return number


class MiniGridKey:
    """key() -> the memo key of `env`'s current state, or None when it has no grid yet."""

    __slots__ = ("env", "_cells", "_plain", "_plain_state", "_other", "_other_state", "_number", "_base_encode")

    def __init__(self, env):
        from minigrid.core.world_object import WorldObj

        self.env = env.unwrapped   # a wrapper chain's base env never changes; each .unwrapped walks it
        self._base_encode = WorldObj.encode
        self._cells: list | None = None
        self._number = -1

    def _remember(self, cells: list) -> None:
        objects = [o for o in cells if o is not None]
        base = self._base_encode
        self._cells = list(cells)
        self._plain = [o for o in objects if getattr(type(o), "encode", None) is base]
        self._other = [o for o in objects if getattr(type(o), "encode", None) is not base]
        self._plain_state = _plain_state(self._plain)
        self._other_state = tuple([o.encode() for o in self._other])
        self._number = _number(cells_encoding(cells))

    def __call__(self):
        u = self.env
        grid = getattr(u, "grid", None)
        cells = getattr(grid, "grid", None)
        if cells is None or not hasattr(u, "agent_pos"):
            return None
        if (cells != self._cells or _plain_state(self._plain) != self._plain_state
                or tuple([o.encode() for o in self._other]) != self._other_state):
            self._remember(cells)
        carrying = u.carrying.encode() if u.carrying is not None else None
        return self._number, grid.width, tuple(u.agent_pos), u.agent_dir, carrying
