"""Shortest-path planning on a MiniGrid grid, shared by the suites' scripted experts."""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
DIR_VEC = ((1, 0), (0, 1), (-1, 0), (0, -1))  # minigrid's agent_dir 0..3

State = tuple[int, int, int]  # x, y, dir


def agent_state(env) -> State:
    u = env.unwrapped
    return int(u.agent_pos[0]), int(u.agent_pos[1]), int(u.agent_dir)


def ahead(x: int, y: int, d: int) -> tuple[int, int]:
    return x + DIR_VEC[d][0], y + DIR_VEC[d][1]


def front(env) -> tuple[int, int]:
    return ahead(*agent_state(env))


def find(env, kind: type) -> list[tuple[tuple[int, int], object]]:
    """Every object of class `kind` on the grid, in row-major order."""
    grid = env.unwrapped.grid
    return [((x, y), grid.get(x, y)) for y in range(grid.height) for x in range(grid.width)
            if isinstance(grid.get(x, y), kind)]


def find_one(env, kind: type) -> tuple[tuple[int, int], object] | None:
    found = find(env, kind)
    return found[0] if found else None


def plan(env, is_target: Callable[[State], bool],
         blocked: Iterable[tuple[int, int]] = ()) -> list[int] | None:
    """Fewest left/right/forward actions to a state where `is_target` holds, or None.

    BFS over (x, y, dir); forward enters only empty or overlappable cells (open doors,
    goals), exactly as MiniGridEnv.step moves the agent.
    """
    grid = env.unwrapped.grid
    blocked = set(blocked)
    start = agent_state(env)
    parent: dict[State, tuple[State, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if is_target(state):
            actions: list[int] = []
            while parent[state] is not None:
                state, action = parent[state]
                actions.append(action)
            return actions[::-1]
        x, y, d = state
        nx, ny = ahead(x, y, d)
        moves = [(LEFT, (x, y, (d - 1) % 4)), (RIGHT, (x, y, (d + 1) % 4))]
        if 0 <= nx < grid.width and 0 <= ny < grid.height and (nx, ny) not in blocked:
            cell = grid.get(nx, ny)
            if cell is None or cell.can_overlap():
                moves.append((FORWARD, (nx, ny, d)))
        for action, nxt in moves:
            if nxt not in parent:
                parent[nxt] = (state, action)
                queue.append(nxt)
    return None


def facing(pos: tuple[int, int]) -> Callable[[State], bool]:
    return lambda s: ahead(*s) == tuple(pos)


def standing_on(pos: tuple[int, int]) -> Callable[[State], bool]:
    return lambda s: (s[0], s[1]) == tuple(pos)


def _first(env, is_target, what: str) -> int:
    path = plan(env, is_target)
    if path is None:
        raise RuntimeError(f"expert cannot reach {what} from {agent_state(env)}")
    return path[0] if path else DONE


def interact(env, pos: tuple[int, int], action: int) -> int:
    """`action` (pickup/toggle) if already facing `pos`, else the next step towards it."""
    if front(env) == tuple(pos):
        return action
    return _first(env, facing(pos), f"a cell facing {tuple(pos)}")


def go_to(env, pos: tuple[int, int]) -> int:
    return _first(env, standing_on(pos), f"cell {tuple(pos)}")


def drop_safely(env, keep_reachable: tuple[int, int]) -> int:
    """Drop what the agent carries where it does not cut the way to `keep_reachable`.

    Tries the current heading first, then left, right and behind; if no neighbour is
    a safe spot, steps towards the target and tries again from there.
    """
    grid = env.unwrapped.grid
    x, y, d = agent_state(env)
    for turn, first_action in ((0, DROP), (-1, LEFT), (1, RIGHT), (2, LEFT)):
        cx, cy = ahead(x, y, (d + turn) % 4)
        if grid.get(cx, cy) is not None:
            continue
        if plan(env, facing(keep_reachable), blocked=[(cx, cy)]) is not None:
            return first_action
    return interact(env, keep_reachable, PICKUP)


def next_to(env, obj) -> bool:
    """`obj` lies on the floor in one of the four cells beside the agent (not carried)."""
    if obj is None or env.unwrapped.carrying is obj:
        return False
    x, y, _ = agent_state(env)
    grid = env.unwrapped.grid
    return any(0 <= x + dx < grid.width and 0 <= y + dy < grid.height and grid.get(x + dx, y + dy) is obj
               for dx, dy in DIR_VEC)
