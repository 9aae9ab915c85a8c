"""Ground truth for the coverage corpus (tests/corpus/coverage), from the simulators alone.

Nothing here asks carverify for a verdict.  The truth of each program comes from:

* MiniGrid (DoorKey-6x6, Unlock, UnlockPickup): our own breadth-first search over the
  real environment's transitions, from the reset state of a few layouts.  A state is the
  agent's cell and direction, what it carries, where the key lies, the door (locked /
  closed / open) and the box (UnlockPickup: in place / toggled away / carried).  Each
  state is set on the real env, every action (left, right, forward, pickup, drop, toggle,
  done) is stepped with `env.unwrapped.step`, and the state it leads to is read back.
  Terminal states (goal reached, door opened in Unlock, box picked up) are kept but not
  expanded.  Every state is rendered with `get_frame(highlight=True, tile_size=8)` (what
  a program sees) and labelled from the simulator state, the way the suites' oracles
  define the facts (and checked against those oracles on every state).
  Plus expert episodes (the suite's expert.py), random play from reset and perturbed
  episodes (expert play until a sub-task's fact first holds, then random actions).
* panda-push: states set directly in PyBullet through panda_gym's env (cube pose and
  velocity, target, gripper by inverse kinematics, then one physics step so contacts
  resolve), spread over the workspace: the gripper around the cube on every side and
  above it, the cube near and far from the target, moving and still.  Plus expert,
  random and perturbed episodes.

Each program (trusted, authored here) runs in plain Python (exec with numpy; a per-call
time limit turns a hang into a "timeout") and compiled with plain `numba.njit` (outside
any sandbox; every function of the module, helpers included).  A program is *wrong* if
any sub-task disagrees with its own fact on any state we reached (interpreted), if it
crashes or times out, or if the compiled and interpreted results differ on any state.

States that pixels cannot settle are left out of a fact's count and reported: in
UnlockPickup, toggling the box replaces it by its (empty) contents, so "box toggled
away" is drawn exactly like "box carried" (a carried object is not drawn); those states
are reached but not expanded, and excluded from has_box.  Any other two states with the
same frame and different facts are excluded the same way (checked; none occur).

Usage:
    .venv/bin/python tests/corpus/coverage/truth.py            # everything, cached
    .venv/bin/python tests/corpus/coverage/truth.py --check    # compare with truth.json
Results are cached under $CARVERIFY_CACHE/coverage-truth (default .carverify-cache/).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import signal
import sys
import time
import tomllib
import types
import warnings
from collections import deque

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
SUITES_DIR = REPO / "suites"

# Bump when the simulation below changes what a dataset holds.
DATASET_VERSION = "3"
RUNNER_VERSION = "1"

INTERPRETED_LIMIT = 0.5    # seconds per interpreted call before it counts as a timeout
COMPILED_SLOW = 0.05       # seconds per compiled call above which it counts as slow

MINIGRID = {
    # Layout seeds: reset seeds whose layouts we enumerate exhaustively.
    "minigrid-doorkey-6x6": {"env_id": "MiniGrid-DoorKey-6x6-v0", "layouts": (0, 1, 2)},
    "minigrid-unlock": {"env_id": "MiniGrid-Unlock-v0", "layouts": (0, 5, 9, 18)},   # purple, red, yellow, grey
    "minigrid-unlockpickup": {"env_id": "MiniGrid-UnlockPickup-v0", "layouts": (0, 18)},  # green/purple box, yellow/grey box
}
PANDA = {"panda-push": {"env_id": "PandaPush-v3", "samples": 2400}}
ALL_SUITES = tuple(MINIGRID) + tuple(PANDA)

DIRECTIONS = ("right", "down", "left", "up")
DOOR_STATES = ("locked", "closed but unlocked", "open")
KIND_CODES = {"coverage": 0, "expert": 1, "random": 2, "perturbed": 3}
KIND_NAMES = {v: k for k, v in KIND_CODES.items()}

# Result codes of one check on one state.
FALSE, TRUE, CRASH, TIMEOUT, BAD_RETURN = 0, 1, 2, 3, 4
RESULT_NAMES = {FALSE: "False", TRUE: "True", CRASH: "crash", TIMEOUT: "timeout", BAD_RETURN: "not a truth value"}


# ----------------------------------------------------------------------------- helpers
def suite_config(suite: str) -> dict:
    return tomllib.loads((SUITES_DIR / suite / "suite.toml").read_text())


def load_module(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cache_dir() -> pathlib.Path:
    root = pathlib.Path(os.environ.get("CARVERIFY_CACHE", REPO / ".carverify-cache"))
    path = root / "coverage-truth"
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions() -> str:
    return ",".join(f"{n}={importlib.metadata.version(n)}"
                    for n in ("minigrid", "gymnasium", "panda-gym", "pybullet", "numpy", "numba"))


def dataset_key(suite: str, layouts) -> str:
    h = hashlib.sha256()
    h.update(f"{DATASET_VERSION}|{suite}|{tuple(layouts)}|{versions()}".encode())
    for name in ("suite.toml", "expert.py", "oracle.py"):
        h.update((SUITES_DIR / suite / name).read_bytes())
    return h.hexdigest()[:20]


@contextlib.contextmanager
def quiet_stdout():
    """PyBullet prints on file descriptor 1 directly."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


class Dataset:
    """Frames with their facts, grouped by where they came from (coverage layout or episode)."""

    def __init__(self, suite, facts):
        self.suite, self.facts = suite, tuple(facts)
        self.frames, self.labels, self.settle, self.states = [], [], [], []
        self.kind, self.group, self.step = [], [], []
        self.groups = []   # metadata per group: kind, seed, layout / k
        self.twins = 0     # states left out of a fact because another state has the same frame

    def add_group(self, **meta) -> int:
        self.groups.append(meta)
        return len(self.groups) - 1

    def add(self, group, step, frame, labels, settle, state):
        self.frames.append(frame)
        self.labels.append([bool(labels[f]) for f in self.facts])
        self.settle.append([bool(settle.get(f, True)) for f in self.facts])
        self.states.append(state)
        self.kind.append(KIND_CODES[self.groups[group]["kind"]])
        self.group.append(group)
        self.step.append(step)

    def finish(self):
        self.frames = np.ascontiguousarray(np.stack(self.frames))
        self.labels = np.array(self.labels, dtype=bool).reshape(len(self.frames), len(self.facts))
        self.settle = np.array(self.settle, dtype=bool).reshape(len(self.frames), len(self.facts))
        self.kind = np.array(self.kind, dtype=np.int8)
        self.group = np.array(self.group, dtype=np.int32)
        self.step = np.array(self.step, dtype=np.int32)
        return self

    def save(self, path: pathlib.Path):
        np.savez_compressed(path.with_suffix(".npz"), frames=self.frames, labels=self.labels, twins=self.twins,
                            settle=self.settle, kind=self.kind, group=self.group, step=self.step)
        path.with_suffix(".json").write_text(json.dumps(
            {"suite": self.suite, "facts": self.facts, "groups": self.groups, "states": self.states}))

    @classmethod
    def load(cls, path: pathlib.Path):
        meta = json.loads(path.with_suffix(".json").read_text())
        data = np.load(path.with_suffix(".npz"))
        self = cls(meta["suite"], meta["facts"])
        self.groups, self.states = meta["groups"], meta["states"]
        for name in ("frames", "labels", "settle", "kind", "group", "step"):
            setattr(self, name, data[name])
        self.twins = int(data["twins"])
        return self

    def subset(self, mask):
        out = Dataset(self.suite, self.facts)
        out.groups = self.groups
        idx = np.flatnonzero(mask)
        out.states = [self.states[i] for i in idx]
        for name in ("frames", "labels", "settle", "kind", "group", "step"):
            setattr(out, name, getattr(self, name)[idx])
        return out


# ----------------------------------------------------------------------------- MiniGrid
class MiniGridState:
    """Set and read the abstract state of a MiniGrid layout on the real env."""

    def __init__(self, env_id: str, seed: int):
        import gymnasium
        import minigrid  # noqa: F401

        env = gymnasium.make(env_id)
        env.reset(seed=seed)
        self.attach(env, seed)

    @classmethod
    def of(cls, env, seed: int):
        """A reader for an env that is already reset (episodes)."""
        self = cls.__new__(cls)
        self.attach(env, seed)
        return self

    def attach(self, env, seed: int):
        from minigrid.core.world_object import Box, Door, Goal, Key

        self.env, self.u, self.seed = env, env.unwrapped, seed
        grid = self.u.grid
        cells = [(x, y, grid.get(x, y)) for y in range(grid.height) for x in range(grid.width)]
        self.key = next(c for _, _, c in cells if isinstance(c, Key))
        self.door_pos, self.door = next(((x, y), c) for x, y, c in cells if isinstance(c, Door))
        box = [((x, y), c) for x, y, c in cells if isinstance(c, Box)]
        self.box_pos, self.box = box[0] if box else (None, None)
        goal = [(x, y) for x, y, c in cells if isinstance(c, Goal)]
        self.goal_pos = goal[0] if goal else None
        self.Key, self.Box, self.Goal = Key, Box, Goal
        self.layout = {"door": list(self.door_pos), "box": list(self.box_pos) if self.box_pos else None,
                       "goal": list(self.goal_pos) if self.goal_pos else None, "colour": self.door.color,
                       "width": grid.width, "height": grid.height}

    def get(self) -> tuple:
        u = self.u
        carrying = "key" if u.carrying is self.key else ("box" if u.carrying is not None and u.carrying is self.box
                                                          else None)
        key_pos = None
        if carrying != "key":
            kx, ky = (int(v) for v in self.key.cur_pos)
            assert u.grid.get(kx, ky) is self.key
            key_pos = (kx, ky)
        door = 0 if self.door.is_locked else (2 if self.door.is_open else 1)
        box = None
        if self.box is not None:
            box = "carried" if carrying == "box" else ("here" if u.grid.get(*self.box_pos) is self.box else "gone")
        return (int(u.agent_pos[0]), int(u.agent_pos[1]), int(u.agent_dir), carrying, key_pos, door, box)

    def set(self, state: tuple):
        ax, ay, d, carrying, key_pos, door, box = state
        u = self.u
        kx, ky = (int(v) for v in self.key.cur_pos)
        if kx >= 0 and u.grid.get(kx, ky) is self.key:
            u.grid.set(kx, ky, None)
        if self.box is not None:
            u.grid.set(*self.box_pos, None)
        u.carrying = None
        if carrying == "key":
            u.carrying = self.key
            self.key.cur_pos = np.array([-1, -1])
        else:
            u.grid.set(*key_pos, self.key)
            self.key.cur_pos = np.array(key_pos)
        if self.box is not None:
            if box == "here":
                u.grid.set(*self.box_pos, self.box)
                self.box.cur_pos = np.array(self.box_pos)
            elif box == "carried":
                u.carrying = self.box
        self.door.is_locked = door == 0
        self.door.is_open = door == 2
        u.agent_pos = (ax, ay)
        u.agent_dir = d
        u.step_count = 0

    def facts(self) -> dict:
        u = self.u
        here = u.grid.get(int(u.agent_pos[0]), int(u.agent_pos[1]))
        return {"has_key": isinstance(u.carrying, self.Key), "door_open": bool(self.door.is_open),
                "at_goal": isinstance(here, self.Goal),
                "has_box": self.box is not None and u.carrying is self.box}

    def frame(self) -> np.ndarray:
        return self.u.get_frame(highlight=True, tile_size=8)

    def settle(self, state) -> dict:
        # A toggled-away box is drawn exactly like a carried one: has_box is not settled by pixels.
        return {"has_box": state[6] != "gone"}


def minigrid_facts(suite: str) -> tuple:
    return tuple(suite_config(suite)["subtask_facts"])


def bfs_layout(suite: str, seed: int):
    """Every state reachable from the reset state of `seed`, with its frame and facts."""
    spec = MINIGRID[suite]
    m = MiniGridState(spec["env_id"], seed)
    oracle = load_module(SUITES_DIR / suite / "oracle.py", f"truth_oracle_{suite}").facts
    start = m.get()
    seen = {start: False}
    order = [start]
    queue = deque([start])
    terminal = {}
    while queue:
        state = queue.popleft()
        if seen[state] or state[6] == "gone":
            continue    # terminal, or the box is gone (not expanded; see the module docstring)
        for action in range(7):
            m.set(state)
            _, _, term, _, _ = m.u.step(action)
            nxt = m.get()
            if nxt not in seen:
                seen[nxt] = bool(term)
                order.append(nxt)
                queue.append(nxt)
            elif term and not seen[nxt]:
                raise AssertionError(f"state {nxt} is terminal from one side only")
    rows = []
    for state in order:
        m.set(state)
        facts = m.facts()
        theirs = oracle(m.env)
        for name in set(theirs) & set(facts):    # the suite's oracle may name more facts than we use
            assert bool(theirs[name]) == facts[name], (suite, seed, state, name)
        rows.append((state, m.frame(), facts, m.settle(state), seen[state]))
    layout = m.layout
    m.env.close()
    return rows, layout


def minigrid_episodes(suite: str, ds: Dataset, layouts: dict):
    """Expert, random and perturbed episodes, labelled from the simulator state."""
    import gymnasium
    import minigrid  # noqa: F401

    cfg = suite_config(suite)
    expert = load_module(SUITES_DIR / suite / "expert.py", f"truth_expert_{suite}").act
    facts = ds.facts
    horizon = int(cfg["episodes"]["random_horizon"])
    env = gymnasium.make(MINIGRID[suite]["env_id"])

    def run(kind, seed, k=None):
        env.reset(seed=seed)
        m = MiniGridState.of(env, seed)
        group = ds.add_group(kind=kind, seed=seed, k=k, layout=m.layout)
        rng = np.random.default_rng(seed if kind == "random" else 10_000 + 100 * seed + (k or 0))
        random_mode = kind == "random"
        random_steps = steps = 0
        while True:
            state = m.get()
            f = m.facts()
            ds.add(group, steps, m.frame(), f, m.settle(state), describe_minigrid_state(state, m.layout))
            if kind == "perturbed" and not random_mode and f[facts[k]]:
                random_mode = True
            if random_mode and random_steps >= horizon:
                break
            if random_mode:
                action = int(rng.integers(7))
                random_steps += 1
            else:
                action = int(expert(env))
            _, _, term, trunc, _ = env.unwrapped.step(action)
            steps += 1
            if term or trunc:
                state = m.get()
                ds.add(group, steps, m.frame(), m.facts(), m.settle(state), describe_minigrid_state(state, m.layout))
                break

    for seed in cfg["episodes"]["expert_seeds"]:
        run("expert", seed)
    for seed in cfg["episodes"]["random_seeds"]:
        run("random", seed)
    for seed in cfg["episodes"]["expert_seeds"]:
        # Every sub-task but the goal; in Unlock opening the door ends the episode.
        for k in range(len(facts) - 1):
            run("perturbed", seed, k)
    env.close()


def describe_minigrid_state(state, layout) -> str:
    ax, ay, d, carrying, key_pos, door, box = state
    dx = layout["door"][0]

    def where(x, y):
        room = "left room" if x < dx else ("right room" if x > dx else "doorway")
        return f"({x}, {y}) in the {room}" if room != "doorway" else f"({x}, {y}) in the doorway"

    w, h = layout["width"], layout["height"]
    door_y = layout["door"][1]
    corner = ax in (1, w - 2, dx - 1, dx + 1) and ay in (1, h - 2)

    def wall(x, y):
        return x in (0, w - 1) or y in (0, h - 1) or (x == dx and y != door_y)

    step = ((1, 0), (0, 1), (-1, 0), (0, -1))[d]
    wall_ahead = wall(ax + step[0], ay + step[1])
    parts = [f"agent at {where(ax, ay)} facing {DIRECTIONS[d]}"
             + (" into a wall" if wall_ahead else "") + (" (a corner)" if corner else "")]
    parts.append({"key": "carrying the key", "box": "carrying the box", None: "carrying nothing"}[carrying])
    if key_pos is not None:
        parts.append(f"key on the floor at {where(*key_pos)}")
    parts.append(f"{layout['colour']} door at ({layout['door'][0]}, {layout['door'][1]}) {DOOR_STATES[door]}")
    if box is not None:
        parts.append({"here": "box in place", "gone": "box toggled away", "carried": "box carried"}[box])
    return ", ".join(parts)


def build_minigrid(suite: str, layouts) -> Dataset:
    facts = minigrid_facts(suite)
    ds = Dataset(suite, facts)
    layout_meta = {}
    for seed in layouts:
        rows, layout = bfs_layout(suite, seed)
        layout_meta[seed] = layout
        group = ds.add_group(kind="coverage", seed=seed, layout=layout, terminal=sum(r[4] for r in rows))
        for i, (state, frame, f, settle, _) in enumerate(rows):
            ds.add(group, i, frame, f, settle, describe_minigrid_state(state, layout))
    minigrid_episodes(suite, ds, layout_meta)
    return unsettle_twins(ds.finish())


def unsettle_twins(ds: Dataset) -> Dataset:
    """States sharing a frame but not a fact cannot be settled by pixels: leave that fact out.

    Counted over the settled states of the whole dataset (coverage and episodes); after the
    toggled-away box is set aside none are expected, and the count is reported.
    """
    import collections

    by_frame = collections.defaultdict(list)
    for i in range(len(ds.frames)):
        by_frame[hashlib.sha1(ds.frames[i].tobytes()).digest()].append(i)
    ds.twins = 0
    for same in by_frame.values():
        if len(same) < 2:
            continue
        for j in range(len(ds.facts)):
            settled = [i for i in same if ds.settle[i, j]]
            if len({bool(ds.labels[i, j]) for i in settled}) > 1:
                ds.settle[settled, j] = False
                ds.twins += len(settled)
    return ds


# ----------------------------------------------------------------------------- Panda
class PandaState:
    def __init__(self, env_id: str):
        import gymnasium
        with quiet_stdout():
            import panda_gym  # noqa: F401
            self.env = gymnasium.make(env_id)
        self.u = self.env.unwrapped
        self.client = self.u.sim.physics_client
        self.object_id = self.u.sim._bodies_idx["object"]

    def vector(self) -> np.ndarray:
        u = self.u
        return np.concatenate([u.robot.get_ee_position(), u.robot.get_ee_velocity(),
                               u.sim.get_base_position("object"), u.sim.get_base_velocity("object"),
                               np.asarray(u.task.goal, dtype=np.float64)]).astype(np.float64)

    def facts(self) -> dict:
        s = self.vector()
        ee, obj, goal = s[0:3], s[6:9], s[12:15]
        u = self.u
        success = bool(u.task.is_success(u.task.get_achieved_goal().astype(np.float32),
                                         u.task.get_goal().astype(np.float32)))
        return {"reached": bool(np.linalg.norm(ee[:2] - obj[:2]) < 0.06 and ee[2] < 0.05),
                "near_target": bool(np.linalg.norm(obj - goal) < 0.10), "at_target": success}

    def place(self, gripper, cube, target, cube_velocity=(0.0, 0.0, 0.0), steps=1, rng=None):
        """Set gripper (inverse kinematics), cube and target, then let physics settle `steps` steps."""
        u = self.u
        u.task.goal = np.array(target, dtype=np.float64)
        u.sim.set_base_pose("target", u.task.goal, np.array([0.0, 0.0, 0.0, 1.0]))
        u.sim.set_base_pose("object", np.array(cube, dtype=np.float64), np.array([0.0, 0.0, 0.0, 1.0]))
        self.client.resetBaseVelocity(self.object_id, linearVelocity=list(cube_velocity),
                                      angularVelocity=[0.0, 0.0, 0.0])
        angles = u.robot.inverse_kinematics(link=u.robot.ee_link, position=np.array(gripper, dtype=np.float64),
                                            orientation=np.array([1.0, 0.0, 0.0, 0.0]))
        u.robot.set_joint_angles(np.concatenate([angles[:7], [0.0, 0.0]]))
        for _ in range(steps):
            action = np.zeros(3) if rng is None else rng.uniform(-1, 1, 3)
            self.env.step(action.astype(np.float32))


def describe_panda(s) -> str:
    s = np.asarray(s)
    ee, obj, goal = s[0:3], s[6:9], s[12:15]
    h = float(np.linalg.norm(ee[:2] - obj[:2]))
    return (f"gripper at ({ee[0]:.3f}, {ee[1]:.3f}, {ee[2]:.3f}) m, {h:.3f} m from the cube horizontally "
            f"(3-D {np.linalg.norm(ee - obj):.3f} m); cube at ({obj[0]:.3f}, {obj[1]:.3f}, {obj[2]:.3f}) m "
            f"moving {np.linalg.norm(s[9:12]):.2f} m/s, {np.linalg.norm(obj - goal):.3f} m from the target")


def panda_samples(p: PandaState, ds: Dataset, n: int):
    """n states spread over the workspace, set in PyBullet (see the module docstring)."""
    rng = np.random.default_rng(20261124)
    group = ds.add_group(kind="coverage", seed=0, layout="sampled")
    per = n // 6
    i = 0

    def add():
        nonlocal i
        s = p.vector()
        ds.add(group, i, s, p.facts(), {}, describe_panda(s))
        i += 1

    def table_xy(spread=0.22):
        return rng.uniform(-spread, spread, 2)

    # 1. The gripper around the cube on every side, at pushing height and a little above.
    for _ in range(per):
        cube = np.array([*table_xy(0.2), 0.02])
        angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.09)
        z = rng.choice([rng.uniform(0.01, 0.035), rng.uniform(0.035, 0.07)])
        grip = cube + [radius * np.cos(angle), radius * np.sin(angle), 0.0]
        grip[2] = z
        target = np.array([*table_xy(0.2), 0.02])
        p.place(grip, cube, target)
        add()
    # 2. The gripper above the cube (hovering, resting on it, high up).
    for _ in range(per):
        cube = np.array([*table_xy(0.2), 0.02])
        grip = cube + [*rng.normal(0, 0.015, 2), 0.0]
        grip[2] = rng.uniform(0.04, 0.3)
        p.place(grip, cube, np.array([*table_xy(0.2), 0.02]))
        add()
    # 3. The cube near the target: distances around the 5 cm and 10 cm thresholds.
    for _ in range(per):
        target = np.array([*table_xy(0.15), 0.02])
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.14)
        cube = target + [dist * np.cos(angle), dist * np.sin(angle), 0.0]
        grip = np.array([*table_xy(0.25), rng.uniform(0.02, 0.25)])
        p.place(grip, cube, target)
        add()
    # 4. The cube far from the target, anywhere on the reachable part of the table.
    for _ in range(per):
        cube = np.array([rng.uniform(-0.25, 0.22), rng.uniform(-0.3, 0.3), 0.02])
        target = np.array([*table_xy(0.15), 0.02])
        grip = np.array([*table_xy(0.25), rng.uniform(0.01, 0.3)])
        p.place(grip, cube, target)
        add()
    # 5. Moving: the cube sliding (set velocity), a few steps of random gripper motion.
    for _ in range(per):
        cube = np.array([*table_xy(0.2), 0.02])
        target = np.array([*table_xy(0.15), 0.02])
        angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(0.03, 0.12)
        grip = cube + [radius * np.cos(angle), radius * np.sin(angle), 0.0]
        grip[2] = rng.uniform(0.015, 0.1)
        speed, heading = rng.uniform(0.0, 0.8), rng.uniform(0, 2 * np.pi)
        p.place(grip, cube, target, cube_velocity=(speed * np.cos(heading), speed * np.sin(heading), 0.0),
                steps=int(rng.integers(1, 4)), rng=rng)
        add()
    # 6. The gripper pushing the cube from a random side for a few steps (contact, motion).
    while i < n:
        cube = np.array([*table_xy(0.18), 0.02])
        target = np.array([*table_xy(0.15), 0.02])
        angle = rng.uniform(0, 2 * np.pi)
        side = np.array([np.cos(angle), np.sin(angle)])
        grip = np.array([*(cube[:2] + side * 0.05), 0.02])
        p.place(grip, cube, target)
        for _ in range(int(rng.integers(1, 6))):
            action = np.array([*(-side), 0.0]) * rng.uniform(0.3, 1.0)
            p.env.step(action.astype(np.float32))
        add()


def panda_episodes(suite: str, p: PandaState, ds: Dataset):
    cfg = suite_config(suite)
    expert = load_module(SUITES_DIR / suite / "expert.py", f"truth_expert_{suite}").act
    env = p.env

    def run(kind, seed, k=None):
        env.reset(seed=seed)
        group = ds.add_group(kind=kind, seed=seed, k=k)
        rng = np.random.default_rng(seed if kind == "random" else 10_000 + 100 * seed + (k or 0))
        random_mode = kind == "random"
        for step in range(51):
            s = p.vector()
            f = p.facts()
            ds.add(group, step, s, f, {}, describe_panda(s))
            if step == 50 or (f["at_target"] and kind == "expert"):
                break
            if kind == "perturbed" and not random_mode and f[ds.facts[k]]:
                random_mode = True
            action = rng.uniform(-1, 1, 3) if random_mode else np.asarray(expert(env), dtype=np.float64)
            _, _, term, trunc, _ = env.step(action.astype(np.float32))
            if term or trunc:
                s = p.vector()
                ds.add(group, step + 1, s, p.facts(), {}, describe_panda(s))
                break

    for seed in cfg["episodes"]["expert_seeds"]:
        run("expert", seed)
    for seed in cfg["episodes"]["random_seeds"]:
        run("random", seed)
    for seed in cfg["episodes"]["expert_seeds"]:
        for k in range(2):
            run("perturbed", seed, k)


def build_panda(suite: str, n: int) -> Dataset:
    ds = Dataset(suite, tuple(suite_config(suite)["subtask_facts"]))
    p = PandaState(PANDA[suite]["env_id"])
    p.env.reset(seed=0)
    oracle = load_module(SUITES_DIR / suite / "oracle.py", f"truth_oracle_{suite}").facts
    panda_samples(p, ds, n)
    panda_episodes(suite, p, ds)
    # Cross-check the last state against the suite's oracle (same reading of the simulator).
    ours, theirs = p.facts(), oracle(p.env)
    assert all(ours[k] == bool(theirs[k]) for k in ours), (ours, theirs)
    p.env.close()
    return ds.finish()


def dataset(suite: str, *, layouts=None, use_cache=True) -> Dataset:
    if suite in MINIGRID:
        layouts = tuple(MINIGRID[suite]["layouts"] if layouts is None else layouts)
    else:
        layouts = (PANDA[suite]["samples"],) if layouts is None else tuple(layouts)
    path = cache_dir() / f"dataset-{suite}-{dataset_key(suite, layouts)}"
    if use_cache and path.with_suffix(".npz").exists():
        return Dataset.load(path)
    start = time.perf_counter()
    ds = build_minigrid(suite, layouts) if suite in MINIGRID else build_panda(suite, layouts[0])
    ds.seconds = time.perf_counter() - start
    if use_cache:
        ds.save(path)
    return ds


# ----------------------------------------------------------------------------- running programs
class CallTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CallTimeout()


def load_program(path: pathlib.Path) -> tuple[dict, tuple]:
    namespace = {"__name__": f"coverage_program_{path.stem}"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - trusted, authored here
    return namespace, tuple(namespace["SUBTASKS"])


def run_interpreted(path: pathlib.Path, frames: np.ndarray) -> dict[str, np.ndarray]:
    namespace, subtasks = load_program(path)
    out = {name: np.zeros(len(frames), dtype=np.int8) for name in subtasks}
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(len(frames)):
                frame = frames[i]
                frame.flags.writeable = False
                for name in subtasks:
                    signal.setitimer(signal.ITIMER_REAL, INTERPRETED_LIMIT)
                    try:
                        value = namespace[name](frame)
                        code = (TRUE if value else FALSE) if isinstance(value, (bool, np.bool_)) else BAD_RETURN
                    except CallTimeout:
                        code = TIMEOUT
                    except Exception:  # noqa: BLE001 - a crash is a result here
                        code = CRASH
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    out[name][i] = code
    finally:
        signal.signal(signal.SIGALRM, previous)
    return out


def run_compiled(path: pathlib.Path, frames: np.ndarray) -> tuple[str, dict, dict]:
    """Every function of the module through plain numba.njit; (status, codes, seconds per call)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir() / "numba"))
    import numba

    namespace, subtasks = load_program(path)
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType):
            namespace[name] = numba.njit(cache=True)(value)
    out = {name: np.zeros(len(frames), dtype=np.int8) for name in subtasks}
    slow = {name: np.zeros(len(frames), dtype=bool) for name in subtasks}
    frames = np.ascontiguousarray(frames)
    for name in subtasks:
        try:
            namespace[name](frames[0])
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, (numba.core.errors.TypingError, numba.core.errors.UnsupportedError,
                                numba.core.errors.NumbaError)):
                first = str(exc).strip().splitlines()[0][:160]
                return f"plain numba cannot compile {name}: {type(exc).__name__}: {first}", {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(frames)):
            for name in subtasks:
                begin = time.perf_counter()
                try:
                    value = namespace[name](frames[i])
                    code = (TRUE if value else FALSE) if isinstance(value, (bool, np.bool_)) else BAD_RETURN
                except Exception:  # noqa: BLE001
                    code = CRASH
                slow[name][i] = time.perf_counter() - begin > COMPILED_SLOW
                out[name][i] = code
    return "compiled", out, slow


# ----------------------------------------------------------------------------- truth
def evaluate(path: pathlib.Path, suite: str, ds: Dataset, *, compiled=True, use_cache=True) -> dict:
    """One program's truth on one dataset: per sub-task disagreement counts and an example."""
    source = path.read_bytes()
    key = hashlib.sha256(source + f"|{RUNNER_VERSION}|{compiled}|{ds.frames.shape}|".encode()
                         + hashlib.sha256(ds.frames.tobytes()).digest()
                         + ds.labels.tobytes()).hexdigest()[:24]
    cached = cache_dir() / f"result-{path.stem}-{key}.json"
    if use_cache and cached.exists():
        return json.loads(cached.read_text())
    start = time.perf_counter()
    interpreted = run_interpreted(path, ds.frames)
    interpreted_seconds = time.perf_counter() - start
    status, comp, slow = run_compiled(path, ds.frames) if compiled else ("not run", {}, {})
    _, subtasks = load_program(path)
    facts = list(ds.facts)
    result = {"suite": suite, "subtasks": {}, "compiled": {"status": status}, "order": {}}
    wrong = False
    examples = []
    for index, name in enumerate(subtasks):
        fact = facts[index] if index < len(facts) else None
        codes = interpreted[name]
        entry = {"fact": fact}
        if fact is None:
            entry["note"] = "no fact for this position in SUBTASKS"
            wrong = True
        else:
            label = ds.labels[:, facts.index(fact)]
            settle = ds.settle[:, facts.index(fact)]
            said = codes == TRUE
            bad = ((codes >= CRASH) | (said != label)) & settle
            for kind, kcode in KIND_CODES.items():
                sel = ds.kind == kcode
                if not sel.any():
                    continue
                entry[kind] = {
                    "states": int((sel & settle).sum()),
                    "disagree": int((bad & sel).sum()),
                    "false_positive": int((sel & settle & (codes == TRUE) & ~label).sum()),
                    "false_negative": int((sel & settle & (codes == FALSE) & label).sum()),
                    "crash": int((sel & settle & (codes == CRASH)).sum()),
                    "timeout": int((sel & settle & (codes == TIMEOUT)).sum()),
                    "bad_return": int((sel & settle & (codes == BAD_RETURN)).sum()),
                    "unsettled_states": int((sel & ~settle).sum()),
                }
            per_layout = {}
            for g in np.unique(ds.group[ds.kind == KIND_CODES["coverage"]]):
                sel = ds.group == g
                per_layout[str(ds.groups[g]["seed"])] = int((bad & sel).sum())
            entry["coverage_per_layout"] = per_layout
            if bad.any():
                wrong = True
                i = int(np.flatnonzero(bad)[0])
                examples.append(f"{name}: {KIND_NAMES[int(ds.kind[i])]} state: {ds.states[i]}; program: "
                                f"{RESULT_NAMES[int(codes[i])]}, simulator: {bool(label[i])}")
        if status == "compiled":
            diff = comp[name] != codes
            entry["compiled_differs"] = int(diff.sum())
            entry["compiled_differs_on_episodes"] = int((diff & (ds.kind != KIND_CODES["coverage"])).sum())
            entry["compiled_crash"] = int((comp[name] == CRASH).sum())
            entry["compiled_slow"] = int(slow[name].sum())
            if diff.any():
                wrong = True
                i = int(np.flatnonzero(diff)[0])
                examples.append(f"{name} compiled: {KIND_NAMES[int(ds.kind[i])]} state: {ds.states[i]}; "
                                f"interpreted: {RESULT_NAMES[int(codes[i])]}, compiled: {RESULT_NAMES[int(comp[name][i])]}")
            if entry["compiled_crash"] or entry["compiled_slow"]:
                wrong = True
        result["subtasks"][name] = entry
    result["order"] = order_on_expert(ds, subtasks, interpreted)
    if result["order"]["out_of_order"] or result["order"]["same_frame"] or result["order"]["incomplete"]:
        wrong = True
    result["truth"] = "wrong" if wrong else "correct"
    result["example"] = examples[0] if examples else None
    result["examples"] = examples[:6]
    result["seconds"] = {"interpreted": round(interpreted_seconds, 1),
                         "total": round(time.perf_counter() - start, 1)}
    if use_cache:
        cached.write_text(json.dumps(result))
    return result


_WORK = {}


def _evaluate_one(path):
    w = _WORK
    return path, evaluate(path, w["suite"], w["ds"], compiled=w["compiled"], use_cache=w["use_cache"])


def evaluate_all(paths, suite, ds, *, jobs=2, compiled=True, use_cache=True):
    """evaluate() over programs, in `jobs` forked workers (each inherits the dataset)."""
    import multiprocessing

    _WORK.update(suite=suite, ds=ds, compiled=compiled, use_cache=use_cache)
    if jobs <= 1 or len(paths) <= 1:
        for path in paths:
            yield _evaluate_one(path)
        return
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=4) as pool:
        yield from pool.imap(_evaluate_one, paths)


def order_on_expert(ds: Dataset, subtasks, codes) -> dict:
    """Expert episodes: first frame each check holds; same frame / out of order / never."""
    same = out = incomplete = 0
    for g, meta in enumerate(ds.groups):
        if meta["kind"] != "expert":
            continue
        sel = np.flatnonzero(ds.group == g)
        firsts = []
        for name in subtasks:
            hits = np.flatnonzero(codes[name][sel] == TRUE)
            firsts.append(int(hits[0]) if len(hits) else None)
        if any(f is None for f in firsts):
            incomplete += 1
            continue
        pairs = list(zip(firsts, firsts[1:]))
        same += any(a == b for a, b in pairs)
        out += any(a > b for a, b in pairs)
    return {"same_frame": same, "out_of_order": out, "incomplete": incomplete}


def programs(suite: str | None = None) -> list[tuple[str, pathlib.Path]]:
    found = []
    for folder in sorted(p for p in HERE.iterdir() if p.is_dir() and p.name in ALL_SUITES):
        if suite and folder.name != suite:
            continue
        for path in sorted(folder.glob("*.py")):
            found.append((folder.name, path))
    return found


def dataset_summary(ds: Dataset) -> dict:
    out = {"facts": list(ds.facts), "frame_twins_left_out": int(ds.twins)}
    for kind, code in KIND_CODES.items():
        sel = ds.kind == code
        out[kind] = {"states": int(sel.sum()), "groups": len({int(g) for g in ds.group[sel]})}
        if kind == "coverage":
            out[kind]["per_layout"] = {str(ds.groups[g]["seed"]): int((ds.group == g).sum())
                                       for g in sorted({int(g) for g in ds.group[sel]})}
            out[kind]["true_per_fact"] = {f: int(ds.labels[sel, i].sum()) for i, f in enumerate(ds.facts)}
            out[kind]["unsettled_per_fact"] = {f: int((~ds.settle[sel, i]).sum()) for i, f in enumerate(ds.facts)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", action="append", help="only these suites")
    parser.add_argument("--program", action="append", help="only programs whose file stem is listed")
    parser.add_argument("--out", default=str(HERE / "truth.json"))
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--no-compiled", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (fork); the machine is shared")
    args = parser.parse_args(argv)
    suites = args.suite or list(ALL_SUITES)
    report = {"about": "Ground truth for tests/corpus/coverage from the simulators (tests/corpus/coverage/truth.py); "
                       "no carverify verdicts involved.",
              "limits": {"interpreted_call_seconds": INTERPRETED_LIMIT, "compiled_slow_seconds": COMPILED_SLOW},
              "versions": versions(), "datasets": {}, "programs": {}}
    out = pathlib.Path(args.out)
    if out.exists() and (args.program or args.suite):
        previous = json.loads(out.read_text())
        report["datasets"].update(previous.get("datasets", {}))
        report["programs"].update(previous.get("programs", {}))
    for suite in suites:
        begin = time.perf_counter()
        ds = dataset(suite, use_cache=not args.no_cache)
        summary = dataset_summary(ds)
        summary["layouts"] = list(MINIGRID[suite]["layouts"]) if suite in MINIGRID else "sampled"
        summary["build_seconds"] = round(getattr(ds, "seconds", 0.0), 1)
        report["datasets"][suite] = summary
        print(f"{suite}: {len(ds.frames)} states ({time.perf_counter() - begin:.1f} s)", flush=True)
        paths = [path for _, path in programs(suite) if not args.program or path.stem in args.program]
        for path, result in evaluate_all(paths, suite, ds, jobs=args.jobs, compiled=not args.no_compiled,
                                         use_cache=not args.no_cache):
            report["programs"][f"{suite}/{path.name}"] = result
            print(f"  {path.name}: {result['truth']} ({result['seconds']['total']:.1f} s)"
                  + (f" -- {result['example']}" if result["example"] else ""), flush=True)
    out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
