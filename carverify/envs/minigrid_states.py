"""Every reachable abstract state of a MiniGrid layout, by breadth-first search over env.step.

An abstract state is what decides both the frame a program sees and every oracle fact:
the agent's cell and direction, what it carries, each door's (open, locked) flags and
where each movable object (key, ball, box) lies.  Nothing else in a MiniGrid env
changes during an episode except the step counter, which the search resets.

The search sets each state directly on the real environment and applies every action
through the env's own `step`, so pickup, drop and toggle follow MiniGrid's rules and not
ours.  Terminal states (success, or any termination) are kept but not expanded.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

# left, right, forward, pickup, drop, toggle; "done" changes nothing but the step counter.
ACTIONS = (0, 1, 2, 3, 4, 5)
CARRIED = (-1, -1)
GONE = (-2, -2)     # a box toggled open is replaced by its contents (nothing, in these tasks)
DIRECTIONS = ("east", "south", "west", "north")


@dataclass
class LayoutStates:
    """The reachable states of one layout, in breadth-first order (index 0 is the reset state)."""

    seed: int
    states: list[tuple]                  # abstract states, see Layout.read
    edges: np.ndarray                    # (E, 2) int32: (from, to) over distinct transitions
    terminal: np.ndarray                 # (N,) bool: an action ended the episode on entering it
    success: np.ndarray                  # (N,) bool: ...with a positive reward
    depth: np.ndarray                    # (N,) int32: fewest actions from reset
    left_out: dict[str, int]             # why -> how many transitions were not followed


class Layout:
    """Reads and sets the abstract state of one reset MiniGrid env (one seed)."""

    def __init__(self, env, seed: int):
        self.env = env
        self.u = env.unwrapped
        env.reset(seed=seed)
        grid = self.u.grid
        cells = [grid.get(x, y) for y in range(grid.height) for x in range(grid.width)]
        # Identity, not equality: WorldObj.__eq__ compares encodings, so two keys of one colour
        # would be confused.
        self.movables = [o for o in cells if o is not None and o.can_pickup()]
        self.doors = [o for o in cells if o is not None and o.type == "door"]
        if self.u.carrying is not None:
            self.movables.append(self.u.carrying)
        self._where = {}
        for o in self.movables:
            self._where[id(o)] = tuple(int(v) for v in o.cur_pos) if o is not self.u.carrying else CARRIED

    def read(self) -> tuple:
        u = self.u
        carry = -1
        positions = []
        for i, o in enumerate(self.movables):
            if u.carrying is o:
                carry, pos = i, CARRIED
            else:
                pos = self._locate(o)
            positions.extend(pos)
        doors = [int(d.is_open) * 2 + int(d.is_locked) for d in self.doors]
        return (int(u.agent_pos[0]), int(u.agent_pos[1]), int(u.agent_dir), carry, *positions, *doors)

    def _locate(self, obj) -> tuple[int, int]:
        # An object stays where it was last put unless it was picked up or toggled away; check
        # the remembered cell first and scan only when it is not there.
        grid = self.u.grid
        x, y = self._where.get(id(obj), GONE)
        if x >= 0 and grid.get(x, y) is obj:
            return x, y
        for j in range(grid.height):
            for i in range(grid.width):
                if grid.get(i, j) is obj:
                    self._where[id(obj)] = (i, j)
                    return i, j
        return GONE

    def set(self, state: tuple) -> None:
        u, grid = self.u, self.u.grid
        n = len(self.movables)
        ax, ay, adir, carry = state[:4]
        positions = state[4:4 + 2 * n]
        doors = state[4 + 2 * n:]
        for o in self.movables:
            x, y = self._locate(o) if u.carrying is not o else CARRIED
            if x >= 0:
                grid.set(x, y, None)
        u.carrying = None
        for i, o in enumerate(self.movables):
            x, y = positions[2 * i], positions[2 * i + 1]
            if i == carry:
                u.carrying = o
                o.cur_pos = np.array(CARRIED)
            elif x >= 0:
                grid.set(x, y, o)
                o.cur_pos = np.array((x, y))
            self._where[id(o)] = (x, y)
        for d, flags in zip(self.doors, doors):
            d.is_open, d.is_locked = bool(flags & 2), bool(flags & 1)
        u.agent_pos = (ax, ay)
        u.agent_dir = adir
        u.step_count = 0

    def describe(self, state: tuple) -> str:
        """The state in words, for findings: 'agent at (3, 2) facing east, carrying the key; ...'."""
        n = len(self.movables)
        ax, ay, adir, carry = state[:4]
        parts = [f"agent at ({ax}, {ay}) facing {DIRECTIONS[adir]}"
                 + (f", carrying the {_name(self.movables[carry])}" if carry >= 0 else "")]
        for i, o in enumerate(self.movables):
            x, y = state[4 + 2 * i], state[5 + 2 * i]
            if i == carry:
                continue
            where = "gone" if (x, y) == GONE else f"at ({x}, {y})"
            moved = "" if (x, y) == self._initial(o) or (x, y) == GONE else " (moved)"
            parts.append(f"{_name(o)} {where}{moved}")
        for d, flags in zip(self.doors, state[4 + 2 * n:]):
            look = "open" if flags & 2 else ("locked" if flags & 1 else "closed, unlocked")
            parts.append(f"{d.color} door at ({int(d.cur_pos[0])}, {int(d.cur_pos[1])}) {look}")
        return "; ".join(parts)

    def _initial(self, obj) -> tuple[int, int]:
        pos = getattr(obj, "init_pos", None)
        return tuple(int(v) for v in pos) if pos is not None else GONE


def _name(obj) -> str:
    return f"{obj.color} {obj.type}"


def reachable(env, seed: int, *, budget: int, keep=None) -> tuple[Layout, LayoutStates]:
    """Breadth-first search from the reset state of `seed`.

    `keep(layout, state) -> str | None` names why a successor is not followed (a stated
    reduction); such transitions are counted in `left_out`, never silently dropped.
    Raises BudgetExceeded when more than `budget` states are reachable.
    """
    layout = Layout(env, seed)
    # step() ends by computing the agent's partial view, which the search never reads and
    # which costs most of a step; the instance attribute shadows the method until the end.
    layout.u.gen_obs = _no_observation
    try:
        return layout, _search(layout, seed, budget, keep)
    finally:
        del layout.u.gen_obs


def _no_observation():
    return None


def _search(layout: Layout, seed: int, budget: int, keep) -> LayoutStates:
    env = layout.env
    start = layout.read()
    index = {start: 0}
    states, depth = [start], [0]
    terminal, success = [False], [False]
    edges: set[tuple[int, int]] = set()
    left_out: dict[str, int] = {}
    queue = deque([0])
    while queue:
        i = queue.popleft()
        if terminal[i]:
            continue
        for action in ACTIONS:
            layout.set(states[i])
            # The unwrapped step: gymnasium's checking wrappers would reject the skipped observation.
            _, reward, term, _, _ = layout.u.step(action)
            nxt = layout.read()
            why = keep(layout, nxt) if keep is not None else None
            if why is not None:
                left_out[why] = left_out.get(why, 0) + 1
                continue
            j = index.get(nxt)
            if j is None:
                j = index[nxt] = len(states)
                if j >= budget:
                    raise BudgetExceeded(seed, budget)
                states.append(nxt)
                depth.append(depth[i] + 1)
                terminal.append(bool(term))
                success.append(bool(term and reward > 0))
                queue.append(j)
            if j != i:
                edges.add((i, j))
    return LayoutStates(seed=seed, states=states,
                                edges=np.array(sorted(edges), np.int32).reshape(-1, 2),
                                terminal=np.array(terminal), success=np.array(success),
                                depth=np.array(depth, np.int32), left_out=left_out)


class BudgetExceeded(Exception):
    def __init__(self, seed: int, budget: int):
        super().__init__(f"layout seed {seed}: more than {budget} reachable states")
        self.seed, self.budget = seed, budget
