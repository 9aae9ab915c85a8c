"""Tabletop pick-and-place (Ravens/CLIPort style) in PyBullet, headless: the environment and its carverify adapter.

This file is a bring-your-own-environment example: it sits in a suite folder, and suite.toml
names it (`adapter = "tabletop.py"`; sibling suites use "../tabletop-block-in-bowl/tabletop.py"
and pick a task with `task = ...`).  carverify's core never imports it by name.

Tasks (TASKS): "block-in-bowl", three cubes (red, green, blue) into static bowls of their
colour; "block-in-box", a red cube into an open box; "separate-piles", a pile of two red and two
blue cubes into two flat zones.  The table is pybullet_data's plane.urdf (hidden; a grey square
is drawn), the cubes its cube_small.urdf scaled to 4 cm and recoloured, the receptacles are
built in code.  There is no arm: an action is one pick-and-place primitive, (pick x, pick y,
place x, place y) in metres.  A suction cup comes straight down at pick xy and holds the first
thing a vertical ray meets there if it is a block, and lets it go just above whatever lies under
place xy; the physics then settles (blocks can land on a rim and tip, or on another block).  A
pick that meets no block does nothing.  An episode ends when every block is in place (the
environment's success) or after `max_steps` primitives.

What a program sees (suite.toml obs_kind): "state", a float64 vector of the blocks' centres then
the receptacles' centres (x, y, z each); or "rgb", a top-down frame drawn by PyBullet's
TinyRenderer (CPU).  coverage_states() below builds the coverage stage's settled states.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import pathlib
import sys

import gymnasium
import numpy as np

from carverify.envs import EnvAdapter

COLOURS = ("red", "green", "blue")
BLOCK_RGBA = {"red": (0.85, 0.10, 0.10, 1.0), "green": (0.10, 0.65, 0.15, 1.0), "blue": (0.10, 0.25, 0.90, 1.0)}
# Bowls are pale tints of their block's colour, so a block in its bowl stays visible from above.
BOWL_RGBA = {"red": (0.95, 0.62, 0.62, 1.0), "green": (0.62, 0.90, 0.62, 1.0), "blue": (0.62, 0.72, 0.98, 1.0)}
TABLE_RGBA = (0.55, 0.55, 0.55, 1.0)
BLOCK_HALF = 0.02            # 4 cm cubes: cube_small.urdf (5 cm) scaled by 0.8
BOWL_INNER = 0.06            # metres: the inner radius of a bowl's wall
BOWL_WALL = 0.012            # wall thickness
BOWL_OUTER = BOWL_INNER + BOWL_WALL
BOWL_FLOOR = 0.004           # floor thickness: a block on it rests with its centre at 0.024
BOWL_HEIGHT = 0.03           # wall height above the table
WALL_BOXES = 16
WORKSPACE = (-0.25, 0.25)    # x and y bounds of picks, places and the reset layout, metres
STATE_SIZE = 18
STATE_LAYOUT = {f"{c}_block": slice(3 * i, 3 * i + 3) for i, c in enumerate(COLOURS)}
STATE_LAYOUT.update({f"{c}_bowl": slice(9 + 3 * i, 12 + 3 * i) for i, c in enumerate(COLOURS)})
SETTLE_MAX = 480             # physics steps (1/240 s) a place may take to come to rest
CAMERA_HEIGHT = 1.5


class Tabletop(gymnasium.Env):
    """Blocks into bowls of their colour, by pick-and-place primitives; deterministic per reset seed."""

    metadata = {"render_modes": ["rgb_array"]}
    colours = COLOURS   # the blocks, in order
    receptacle_count = 3
    receptacle_of = (0, 1, 2)   # per block, the receptacle it belongs in

    def __init__(self, max_steps: int = 6, render_size: tuple[int, int] = (64, 64), span: float = 0.56):
        lo, hi = WORKSPACE
        self.action_space = gymnasium.spaces.Box(lo, hi, (4,), np.float64)
        size = 3 * (len(self.colours) + self.receptacle_count)   # x, y, z of each block, then each receptacle
        self.observation_space = gymnasium.spaces.Box(-1.0, 1.0, (size,), np.float64)
        self.max_steps, self.render_size, self.span = int(max_steps), tuple(render_size), float(span)
        self.client, self.blocks, self.receptacles, self.steps = None, [], [], 0

    # -- the scene ------------------------------------------------------------------------
    def _build(self) -> None:
        """A fresh simulation: resetting body poses alone would keep PyBullet's contact caches,
        and an episode would then depend on the one before it."""
        if self.client is None:
            with _quiet_stdio():   # pybullet prints its build time and argv[0] from C
                import pybullet
                from pybullet_utils.bullet_client import BulletClient

                self.client = BulletClient(connection_mode=pybullet.DIRECT)
        import pybullet
        import pybullet_data

        c = self.client
        c.resetSimulation()
        c.setAdditionalSearchPath(pybullet_data.getDataPath())
        c.setGravity(0, 0, -9.8)
        c.setPhysicsEngineParameter(deterministicOverlappingPairs=1)
        # plane.urdf's 30 m textured mesh costs TinyRenderer ~8 ms a frame: it is hidden, and a
        # visual-only square the size of the frame is drawn as the table top.
        table = c.loadURDF("plane.urdf")
        c.changeVisualShape(table, -1, rgbaColor=[0, 0, 0, 0])
        top = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=[0.4, 0.4, 0.0005], rgbaColor=TABLE_RGBA)
        c.createMultiBody(baseMass=0, baseVisualShapeIndex=top, basePosition=[0, 0, -0.0005])
        self.receptacles = self._receptacles()
        self.blocks = []
        for col in self.colours:
            body = c.loadURDF("cube_small.urdf", [0, 0, -1], globalScaling=2 * BLOCK_HALF / 0.05)
            c.changeVisualShape(body, -1, rgbaColor=BLOCK_RGBA[col], textureUniqueId=-1)
            self.blocks.append(body)

    def _receptacles(self) -> list[int]:
        return [self._bowl(BOWL_RGBA[col]) for col in COLOURS]

    def _bowl(self, rgba) -> int:
        """A static bowl: one compound shape, a floor disc and WALL_BOXES wall boxes in a ring.

        One compound collision shape steps ~10x faster than fixed links.  It has no visual shape
        of its own (createVisualShapeArray crashes this PyBullet), so TinyRenderer draws the
        collision geometry, recoloured."""
        import pybullet

        c = self.client
        mid = BOWL_INNER + BOWL_WALL / 2
        # A wall box's half length: half the arc one box spans at the wall's mid radius, a little over.
        half = [BOWL_WALL / 2, np.pi * mid / WALL_BOXES * 1.08, BOWL_HEIGHT / 2]
        angles = 2 * np.pi * np.arange(WALL_BOXES) / WALL_BOXES
        n = WALL_BOXES
        shape = c.createCollisionShapeArray(
            [pybullet.GEOM_CYLINDER] + [pybullet.GEOM_BOX] * n, radii=[BOWL_OUTER] + [0] * n,
            halfExtents=[[0, 0, 0]] + [half] * n, lengths=[BOWL_FLOOR] + [0] * n,
            collisionFramePositions=[[0, 0, BOWL_FLOOR / 2]]
            + [[mid * np.cos(a), mid * np.sin(a), BOWL_HEIGHT / 2] for a in angles],
            collisionFrameOrientations=[[0, 0, 0, 1]] + [c.getQuaternionFromEuler([0, 0, a]) for a in angles])
        body = c.createMultiBody(baseMass=0, baseCollisionShapeIndex=shape, basePosition=[0, 0, -1])
        c.changeVisualShape(body, -1, rgbaColor=list(rgba))
        return body

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self._build()
        rng, c = self.np_random, self.client
        bowls, blocks = self._layout(rng)
        yaws = rng.uniform(0, np.pi / 2, len(blocks))
        for body, (x, y) in zip(self.receptacles, bowls):
            c.resetBasePositionAndOrientation(body, [x, y, 0], [0, 0, 0, 1])
        for body, (x, y), yaw in zip(self.blocks, blocks, yaws):
            c.resetBasePositionAndOrientation(body, [x, y, BLOCK_HALF], c.getQuaternionFromEuler([0, 0, yaw]))
        self.steps = 0
        self.settle()
        return self.state_vector().astype(np.float64), {}

    def _layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Receptacle and block xy at reset, by rejection sampling: bowls apart, blocks apart and
        clear of every bowl."""
        lo, hi = WORKSPACE
        while True:
            bowls = rng.uniform(lo + BOWL_OUTER, hi - BOWL_OUTER, (3, 2))
            blocks = rng.uniform(lo + 0.03, hi - 0.03, (3, 2))
            if (_min_gap(bowls, bowls) > 2 * BOWL_OUTER + 0.02 and _min_gap(blocks, blocks) > 0.07
                    and _min_gap(blocks, bowls) > BOWL_OUTER + 0.04):
                return bowls, blocks

    def settle(self) -> int:
        """Step the physics until every block rests (or SETTLE_MAX steps); the steps taken."""
        c = self.client
        for n in range(1, SETTLE_MAX + 1):
            c.stepSimulation()
            if n % 6 == 0 and all(np.linalg.norm(c.getBaseVelocity(b)[0]) < 2e-3
                                   and np.linalg.norm(c.getBaseVelocity(b)[1]) < 2e-2 for b in self.blocks):
                return n
        return SETTLE_MAX

    # -- the primitive ----------------------------------------------------------------------
    def step(self, action):
        a = np.clip(np.asarray(action, np.float64).reshape(4), *WORKSPACE)
        picked = self.block_under(a[0], a[1])
        if picked is not None:
            self.carry(picked, a[2], a[3])
        self.steps += 1
        success = self.is_success()
        info = {"is_success": success, "picked": -1 if picked is None else picked}
        return self.state_vector(), float(success), success, self.steps >= self.max_steps and not success, info

    def block_under(self, x: float, y: float) -> int | None:
        """The block a suction cup coming straight down at (x, y) meets first, or None."""
        hit = self.client.rayTest([x, y, 0.5], [x, y, -0.01])[0][0]
        return self.blocks.index(hit) if hit in self.blocks else None

    def carry(self, i: int, x: float, y: float) -> None:
        """Hold block i upright at its yaw, release it 3 mm above whatever lies under (x, y), settle."""
        c, body = self.client, self.blocks[i]
        yaw = c.getEulerFromQuaternion(c.getBasePositionAndOrientation(body)[1])[2]
        c.resetBasePositionAndOrientation(body, [5.0, 5.0, 1.0], [0, 0, 0, 1])   # out of the ray's way
        surface = c.rayTest([x, y, 0.5], [x, y, -0.01])[0][3][2]
        c.resetBasePositionAndOrientation(body, [x, y, max(surface, 0.0) + BLOCK_HALF + 0.003],
                                          c.getQuaternionFromEuler([0, 0, yaw]))
        c.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
        self.settle()

    def place_blocks(self, poses) -> None:
        """Put the blocks at (x, y, z, yaw) each, in order, and settle: coverage states set directly."""
        c = self.client
        for body, (x, y, z, yaw) in zip(self.blocks, poses):
            c.resetBasePositionAndOrientation(body, [x, y, z], c.getQuaternionFromEuler([0, 0, yaw]))
            c.resetBaseVelocity(body, [0, 0, 0], [0, 0, 0])
        self.settle()

    # -- what the simulator says ------------------------------------------------------------
    def block_positions(self) -> np.ndarray:
        return np.array([self.client.getBasePositionAndOrientation(b)[0] for b in self.blocks], np.float64)

    def receptacle_positions(self) -> np.ndarray:
        return np.array([self.client.getBasePositionAndOrientation(b)[0] for b in self.receptacles], np.float64)

    def state_vector(self) -> np.ndarray:
        return np.concatenate([self.block_positions().ravel(), self.receptacle_positions().ravel()])

    def in_bowl(self) -> np.ndarray:
        """Per block, whether its centre lies within its own bowl's wall, seen from above (Ravens'
        test: a block stacked on another inside the bowl counts)."""
        gap = np.linalg.norm(self.block_positions()[:, :2] - self.receptacle_positions()[:, :2], axis=1)
        return gap < BOWL_INNER

    def in_place(self) -> np.ndarray:
        """Per block, whether it is where the task wants it."""
        return self.in_bowl()

    def is_success(self) -> bool:
        return bool(self.in_place().all())

    # -- coverage hooks (coverage_states below) ---------------------------------------------
    def draw_places(self, rng: np.random.Generator) -> list[tuple[str, tuple]]:
        return _draw_places(rng, self.receptacle_positions())

    def unsettled(self, band: float) -> dict[str, bool]:
        """Facts a top-down frame cannot settle in this state (see coverage_states)."""
        hidden = _unsettled(self, band)
        out = {f"{c}_in_bowl": bool(h) for c, h in zip(COLOURS, hidden)}
        out["all_blocks_placed"] = bool(hidden.any())
        return out

    def render_frame(self) -> np.ndarray:
        """Top-down RGB, image up = world +x, image right = world -y; `span` metres across."""
        import pybullet

        width, height = self.render_size
        c = self.client
        view = c.computeViewMatrix([0, 0, CAMERA_HEIGHT], [0, 0, 0], [1, 0, 0])
        half_w = self.span / 2 * 0.1 / CAMERA_HEIGHT      # the frustum at the near plane (0.1 m)
        half_h = half_w * height / width
        proj = c.computeProjectionMatrix(-half_w, half_w, -half_h, half_h, 0.1, 3.0)
        _, _, rgba, _, _ = c.getCameraImage(width, height, view, proj, shadow=False,
                                            renderer=pybullet.ER_TINY_RENDERER,
                                            flags=pybullet.ER_NO_SEGMENTATION_MASK)
        return np.asarray(rgba, np.uint8).reshape(height, width, 4)[:, :, :3].copy()

    def render(self):
        return self.render_frame()

    def close(self):
        if self.client is not None:
            self.client.disconnect()
            self.client = None


# -- block in box: one red block into a tan open box ----------------------------------------
BOX_RGBA = (0.70, 0.52, 0.30, 1.0)
BOX_INNER = (0.06, 0.05)     # metres: half the box's inside along x and y (axis-aligned)
BOX_WALL = 0.01
BOX_HEIGHT = 0.04
BOX_FLOOR = 0.004
NEAR_BOX = 0.15              # metres between the block's and the box's centres, horizontally


class BoxTabletop(Tabletop):
    """A red block into an open box (Ravens/CLIPort style); the state vector is the block's centre,
    then the box's (x, y, z each)."""

    colours = ("red",)
    receptacle_count = 1
    receptacle_of = (0,)

    def _receptacles(self) -> list[int]:
        import pybullet

        c = self.client
        (ix, iy), w, h = BOX_INNER, BOX_WALL, BOX_HEIGHT
        halves = [[ix + w, iy + w, BOX_FLOOR / 2], [w / 2, iy + w, h / 2], [w / 2, iy + w, h / 2],
                  [ix + w, w / 2, h / 2], [ix + w, w / 2, h / 2]]
        spots = [[0, 0, BOX_FLOOR / 2], [ix + w / 2, 0, h / 2], [-ix - w / 2, 0, h / 2],
                 [0, iy + w / 2, h / 2], [0, -iy - w / 2, h / 2]]
        shape = c.createCollisionShapeArray([pybullet.GEOM_BOX] * 5, halfExtents=halves,
                                            collisionFramePositions=spots)
        body = c.createMultiBody(baseMass=0, baseCollisionShapeIndex=shape, basePosition=[0, 0, -1])
        c.changeVisualShape(body, -1, rgbaColor=list(BOX_RGBA))
        return [body]

    def _layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = WORKSPACE
        while True:   # the block starts well away from the box: not near it, not in it
            box = rng.uniform(lo + 0.09, hi - 0.09, (1, 2))
            block = rng.uniform(lo + 0.03, hi - 0.03, (1, 2))
            if _min_gap(block, box) > NEAR_BOX + 0.03:
                return box, block

    def offset(self) -> np.ndarray:
        """The block's centre minus the box's, x and y."""
        return self.block_positions()[0, :2] - self.receptacle_positions()[0, :2]

    def in_box(self) -> bool:
        """The block's centre lies inside the box's walls, seen from above."""
        dx, dy = np.abs(self.offset())
        return bool(dx < BOX_INNER[0] and dy < BOX_INNER[1])

    def near_box(self) -> bool:
        return bool(np.linalg.norm(self.offset()) < NEAR_BOX)

    def in_place(self) -> np.ndarray:
        return np.array([self.in_box()])

    def draw_places(self, rng: np.random.Generator) -> list[tuple[str, tuple]]:
        return [_draw_box_place(rng, self.receptacle_positions()[0])]

    def unsettled(self, band: float) -> dict[str, bool]:
        """Centres within `band` of the box's inner walls or of the near distance."""
        dx, dy = np.abs(self.offset())
        (ix, iy) = BOX_INNER
        edge = (abs(dx - ix) < band and dy < iy + band) or (abs(dy - iy) < band and dx < ix + band)
        return {"block_in_box": bool(edge),
                "block_near_box": bool(abs(np.hypot(dx, dy) - NEAR_BOX) < band)}


BOX_PLACES = {"table": 0.25, "near": 0.3, "in_box": 0.3, "rim": 0.15}


def _draw_box_place(rng: np.random.Generator, box: np.ndarray) -> tuple[str, tuple]:
    """Where the block goes: far on the table, near the box (against a wall or up to 8 cm off it),
    inside it, or dropped on a wall's top."""
    lo, hi = WORKSPACE
    (ix, iy), w = BOX_INNER, BOX_WALL
    kind = str(rng.choice(list(BOX_PLACES), p=list(BOX_PLACES.values())))
    yaw = rng.uniform(0, np.pi / 2)
    if kind == "in_box":
        x, y = rng.uniform(-ix + 0.029, ix - 0.029), rng.uniform(-iy + 0.029, iy - 0.029)
        return kind, (box[0] + x, box[1] + y, BOX_FLOOR + BLOCK_HALF + 0.0003, yaw)
    side = rng.integers(4)
    along = rng.uniform(-1, 1)
    if kind == "rim":
        x, y = [(ix + w / 2, along * iy), (-ix - w / 2, along * iy),
                (along * ix, iy + w / 2), (along * ix, -iy - w / 2)][side]
        return kind, (box[0] + x, box[1] + y, BOX_HEIGHT + BLOCK_HALF + 0.002, yaw)
    if kind == "near":
        off = w + BLOCK_HALF * 1.45 + rng.uniform(0, 0.08)
        x, y = [(ix + off, along * (iy + w)), (-ix - off, along * (iy + w)),
                (along * (ix + w), iy + off), (along * (ix + w), -iy - off)][side]
        return kind, (float(np.clip(box[0] + x, lo, hi)), float(np.clip(box[1] + y, lo, hi)),
                      BLOCK_HALF + 0.0003, yaw)
    while True:
        x, y = rng.uniform(lo + 0.03, hi - 0.03, 2)
        if np.hypot(x - box[0], y - box[1]) > NEAR_BOX + 0.02:
            return kind, (x, y, BLOCK_HALF + 0.0003, yaw)


# -- separate piles: a pile of red and blue blocks, sorted into two flat zones -----------------
ZONE_HALF = 0.07             # metres: half a square zone's side
ZONE_RGBA = {"red": BOWL_RGBA["red"], "blue": BOWL_RGBA["blue"]}
PILE_COLOURS = ("red", "red", "blue", "blue")


class PilesTabletop(Tabletop):
    """A pile of four blocks (two red, two blue) to split into a pale red and a pale blue square
    zone, flat patches on the table (drawn only: nothing collides with them).  The state vector
    is the four blocks' centres (red, red, blue, blue), then the two zones' centres."""

    colours = PILE_COLOURS
    receptacle_count = 2
    receptacle_of = (0, 0, 1, 1)

    def _receptacles(self) -> list[int]:
        import pybullet

        c = self.client
        out = []
        for col in ("red", "blue"):
            look = c.createVisualShape(pybullet.GEOM_BOX, halfExtents=[ZONE_HALF, ZONE_HALF, 0.0005],
                                       rgbaColor=list(ZONE_RGBA[col]))
            out.append(c.createMultiBody(baseMass=0, baseVisualShapeIndex=look, basePosition=[0, 0, -1]))
        return out

    def _layout(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = WORKSPACE
        while True:   # zones apart; the pile (a jittered 2x2 cluster) clear of both zones
            zones = rng.uniform(lo + ZONE_HALF, hi - ZONE_HALF, (2, 2))
            pile = rng.uniform(lo + 0.08, hi - 0.08, 2)
            order = rng.permutation(4)
            # 6 cm apart: two 4 cm cubes turned by any angle never overlap (half diagonals 2.8 cm).
            grid = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]]) * 0.03 + rng.uniform(-0.002, 0.002, (4, 2))
            blocks = pile + grid[order]
            if (_min_gap(zones, zones) > 2 * ZONE_HALF + 0.04
                    and np.all(np.abs(blocks[:, None, :] - zones[None, :, :]).max(axis=2) > ZONE_HALF + 0.04)):
                return zones, blocks

    def in_zone(self) -> np.ndarray:
        """Per block, whether its centre lies inside the zone of its colour, seen from above."""
        zones = self.receptacle_positions()[[0, 0, 1, 1], :2]
        return np.abs(self.block_positions()[:, :2] - zones).max(axis=1) < ZONE_HALF

    def in_place(self) -> np.ndarray:
        return self.in_zone()

    def draw_places(self, rng: np.random.Generator) -> list[tuple[str, tuple]]:
        return _draw_pile_places(rng, self.receptacle_positions())

    def unsettled(self, band: float) -> dict[str, bool]:
        """Per colour: one of its blocks hidden under another, or its centre within `band` of its
        zone's edge, plus how far the camera's perspective moves a raised block's top face
        outwards (a block stacked on another, near a frame corner, looks up to ~1.5 cm off)."""
        pos = self.block_positions()
        zones = self.receptacle_positions()[[0, 0, 1, 1], :2]
        top = pos[:, 2] + BLOCK_HALF
        shift = np.linalg.norm(pos[:, :2], axis=1) * (top - 2 * BLOCK_HALF) / (CAMERA_HEIGHT - top)
        edge = np.abs(np.abs(pos[:, :2] - zones).max(axis=1) - ZONE_HALF) < band + np.maximum(shift, 0.0)
        hidden = np.array([any(j != i and pos[j, 2] > pos[i, 2] + BLOCK_HALF
                               and np.linalg.norm(pos[j, :2] - pos[i, :2]) < 0.045 for j in range(4))
                           for i in range(4)])
        out = edge | hidden
        return {"red_in_zone": bool(out[:2].any()), "blue_in_zone": bool(out[2:].any()),
                "piles_separated": bool(out.any())}


PILE_PLACES = {"pile": 0.2, "own_zone": 0.35, "other_zone": 0.15, "zone_edge": 0.15, "table": 0.1, "stacked": 0.05}


def _draw_pile_places(rng: np.random.Generator, zones: np.ndarray) -> list[tuple[str, tuple]]:
    """A (where, pose) per block: in the pile's spot, in its own or the other zone, straddling a
    zone's edge, elsewhere on the table, or on top of another block; blocks clear of one another."""
    lo, hi = WORKSPACE
    pile = rng.uniform(lo + 0.08, hi - 0.08, 2)
    for _ in range(1000):
        kinds = [str(k) for k in rng.choice(list(PILE_PLACES), size=4, p=list(PILE_PLACES.values()))]
        poses: list = [None] * 4
        for i in sorted(range(4), key=lambda i: kinds[i] == "stacked"):
            yaw = rng.uniform(0, np.pi / 2)
            own = 0 if i < 2 else 1
            if kinds[i] == "stacked":
                base = [j for j in range(4) if kinds[j] != "stacked"]
                x, y, z, _ = poses[base[rng.integers(len(base))]] if base else (0.0, 0.0, -1.0, 0.0)
                poses[i] = (x + rng.uniform(-0.01, 0.01), y + rng.uniform(-0.01, 0.01), z + 2 * BLOCK_HALF + 0.002, yaw)
                continue
            if kinds[i] == "pile":
                x, y = pile + rng.uniform(-0.05, 0.05, 2)
            elif kinds[i] in ("own_zone", "other_zone"):
                zone = zones[own if kinds[i] == "own_zone" else 1 - own]
                x, y = zone[:2] + rng.uniform(-ZONE_HALF + 0.01, ZONE_HALF - 0.01, 2)
            elif kinds[i] == "zone_edge":
                zone = zones[own if rng.random() < 0.7 else 1 - own]
                side, along = rng.integers(4), rng.uniform(-ZONE_HALF, ZONE_HALF)
                off = ZONE_HALF + rng.uniform(-0.03, 0.03)
                x, y = zone[:2] + [(off, along), (-off, along), (along, off), (along, -off)][side]
            else:
                x, y = rng.uniform(lo + 0.03, hi - 0.03, 2)
            poses[i] = (float(np.clip(x, lo, hi)), float(np.clip(y, lo, hi)), BLOCK_HALF + 0.0003, yaw)
        flat = [p for i, p in enumerate(poses) if kinds[i] != "stacked"]
        if all(p[2] > 0 for p in poses) and all(np.hypot(p[0] - q[0], p[1] - q[1]) > 0.062
                                                for a, p in enumerate(flat) for q in flat[a + 1:]):
            return list(zip(kinds, poses))
    raise RuntimeError("no clear placement of the blocks found in 1000 draws")


TASKS = {"block-in-bowl": Tabletop, "block-in-box": BoxTabletop, "separate-piles": PilesTabletop}


@contextlib.contextmanager
def _quiet_stdio():
    """Descriptors 1 and 2 to /dev/null: the C library writes there directly, not via sys.stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)   # what C stdio buffered goes to /dev/null too
        for fd, copy in ((1, saved[0]), (2, saved[1])):
            os.dup2(copy, fd)
            os.close(copy)


def _cell_policy():
    """cell_policy.py beside this file, imported once under a fixed name (saved models refer to it)."""
    import importlib.util

    name = "carverify_tabletop_cell_policy"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, pathlib.Path(__file__).with_name("cell_policy.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _min_gap(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    if a is b:
        d = d + np.eye(len(a)) * 1e9
    return float(d.min())


# -- training: pick and place cells on a grid over the workspace ------------------------------
# 21 cells a side, a 2.5 cm pitch: every point of the workspace is within 2.5/sqrt(2) = 1.77 cm of
# a grid point.  A 4 cm cube's top face holds the 2 cm disc around its centre whatever its yaw, so
# some grid point lies on every upright block (a pick there meets it), and a block released at the
# grid point nearest a bowl's centre has its corners within 1.77 + 2.83 = 4.6 cm of that centre,
# inside the 6 cm inner wall: the expert's targets are all reachable.  A coarser grid misses
# blocks; a finer one only makes the policy's choice wider.
GRID = 21
STATE_SCALE = 0.25           # metres per unit of the policy's observation: the workspace is [-1, 1]


def grid_points(n: int = GRID) -> np.ndarray:
    """The n evenly spaced coordinates, metres, of one axis of the grid (both workspace edges included)."""
    return np.linspace(*WORKSPACE, n)


def cell_point(cell: int, n: int = GRID) -> tuple[float, float]:
    """Cell -> (x, y) in metres: cells count along y first (cell = n * ix + iy)."""
    ix, iy = divmod(int(cell), n)
    axis = grid_points(n)
    return float(axis[ix]), float(axis[iy])


def nearest_cell(x: float, y: float, n: int = GRID) -> int:
    """The cell whose grid point is nearest (x, y)."""
    axis = grid_points(n)
    return int(n * np.abs(axis - x).argmin() + np.abs(axis - y).argmin())


class GridPickPlace(gymnasium.Wrapper):
    """What the RL policy acts on and sees: a (pick cell, place cell) pair, MultiDiscrete([n*n, n*n])
    on an n x n grid over the workspace, and the state vector in units of STATE_SCALE (float32).

    It sits outside CodeReward, so the reward program still reads the unwrapped frame or state
    vector.  Picks are not snapped to blocks: a cell whose grid point misses every block picks
    nothing, as the continuous action would."""

    def __init__(self, env, n: int = GRID):
        super().__init__(env)
        self.n = int(n)
        self.action_space = gymnasium.spaces.MultiDiscrete([self.n * self.n, self.n * self.n])
        size = env.observation_space.shape
        self.observation_space = gymnasium.spaces.Box(-4.0, 4.0, size, np.float32)

    def to_continuous(self, action) -> np.ndarray:
        pick, place = (int(a) for a in np.asarray(action).reshape(2))
        return np.array([*cell_point(pick, self.n), *cell_point(place, self.n)])

    def _scaled(self, obs) -> np.ndarray:
        return (np.asarray(obs, np.float64) / STATE_SCALE).astype(np.float32)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self._scaled(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(self.to_continuous(action))
        return self._scaled(obs), reward, terminated, truncated, info


class TabletopAdapter(EnvAdapter):
    name = "tabletop"
    simulators = ("pybullet", "gymnasium")
    eval_batch = 1   # one PyBullet client per env: evaluation episodes run one after another
    policy_observation = f"state vector / {STATE_SCALE} m (float32); actions: (pick cell, place cell) on a {GRID}x{GRID} grid"
    # carverify train on every tabletop suite: PPO over (pick cell, place cell) on the grid, from
    # the state vector, scored per cell by cell_policy.py; the same for CaR and sparse reward.
    # Chosen by the block-in-bowl pilot (README "Tabletop suites"); 150k steps is 5x what CaR
    # needed there.  A suite's [train] names its program and may override any of these.
    train_defaults = {
        "algorithm": "ppo", "total_steps": 150_000, "n_envs": 8, "eval_every": 5_000, "eval_episodes": 20,
        "net_arch": [16],
        "ppo": {"n_steps": 64, "batch_size": 128, "n_epochs": 4, "learning_rate": 3e-3, "gamma": 0.8,
                "gae_lambda": 0.5, "clip_range": 0.2, "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5},
    }

    def policy_env(self, suite, env):
        # The policy reads the state vector even on a pixel suite: the frame is for the reward program.
        return GridPickPlace(env)

    def policy(self, suite, config: dict):
        """[train] policy = "cells" (default): cell_policy.py's shared per-cell scores; "mlp": SB3's MlpPolicy."""
        kind = config.get("policy", "cells")
        if kind == "mlp":
            return "MlpPolicy", {}
        if kind != "cells":
            from carverify.errors import UsageError

            raise UsageError(f"suite {suite.name}: [train] policy must be 'cells' or 'mlp', got {kind!r}")
        axis = grid_points() / STATE_SCALE
        points = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)   # cell = GRID * ix + iy
        task = TASKS[suite.config.get("task", "block-in-bowl")]
        pairs = [(i, len(task.colours) + r) for i, r in enumerate(task.receptacle_of)]
        return _cell_policy().CellScorePolicy, {"points": points, "pairs": pairs}

    def make_env(self, suite, render_mode: str | None = None):
        cfg = suite.config.get("render", {})
        kind = TASKS[suite.config.get("task", "block-in-bowl")]
        return kind(max_steps=int(suite.config.get("max_steps", 6)),
                    render_size=(int(cfg.get("width", 64)), int(cfg.get("height", 64))),
                    span=float(cfg.get("span", 0.56)))

    def observe(self, suite, env) -> np.ndarray:
        u = env.unwrapped
        return u.state_vector() if suite.obs_kind == "state" else u.render_frame()

    def state_key(self, env):
        # Rounded to a tenth of a millimetre: finer than a pixel, coarse enough to hit the memo.
        return tuple(np.round(env.unwrapped.state_vector(), 4))

    def success(self, reward: float, terminated: bool, info: dict) -> bool:
        return bool(info.get("is_success", False))

    def success_at_reset(self, env) -> bool:
        return env.unwrapped.is_success()

    def episode_limit(self, env) -> int:
        return env.unwrapped.max_steps

    def random_action(self, env, rng: np.random.Generator) -> np.ndarray:
        """Random play that moves things: pick at a random block half the time (else anywhere),
        place at a random bowl's centre a third of the time (else anywhere).  Uniform picks
        alone would hit a block about one time in fifty."""
        u = env.unwrapped
        lo, hi = WORKSPACE
        blocks, bowls = u.block_positions(), u.receptacle_positions()
        pick = blocks[rng.integers(len(blocks)), :2] + rng.uniform(-0.01, 0.01, 2) if rng.random() < 0.5 \
            else rng.uniform(lo, hi, 2)
        place = bowls[rng.integers(len(bowls)), :2] + rng.uniform(-0.02, 0.02, 2) if rng.random() < 1 / 3 \
            else rng.uniform(lo, hi, 2)
        return np.clip(np.concatenate([pick, place]), lo, hi)

    def code_files(self) -> tuple[pathlib.Path, ...]:
        return (pathlib.Path(__file__),)

    # -- coverage -----------------------------------------------------------------------------
    def coverage_blocks(self, suite):
        return [("states", 0, lambda: self.states_block(suite))]

    def states_block(self, suite) -> dict:
        cov = suite.config.get("coverage", {})
        got = coverage_states(self.make_env(suite), suite.oracle(), obs_kind=suite.obs_kind,
                              n=int(cov.get("states", DEFAULT_STATES)), seed=int(cov.get("seed", 0)),
                              pixel_band=float(cov.get("pixel_band", DEFAULT_PIXEL_BAND)))
        return {**got, "edges": np.zeros((0, 2), np.int32), "depth": np.zeros(len(got["success"]), np.int32),
                "left_out": {"continuous state space: a spread of settled states, not every state": 0}}


# -- coverage: a spread of settled states, set directly in PyBullet -------------------------
DEFAULT_STATES = 2000
DEFAULT_PIXEL_BAND = 0.012   # metres: a pixel and a half of a 64-pixel frame over 0.56 m
STATES_PER_LAYOUT = 50
# Where each block is put, and how often.  "rim": dropped onto its bowl's wall (it tips in or
# out); "outside": resting against a bowl's outer wall (the nearest a block outside gets to a
# bowl's centre); "stacked": on top of another block, wherever that one is.
PLACES = {"table": 0.2, "own_bowl": 0.4, "other_bowl": 0.12, "outside": 0.12, "rim": 0.08, "stacked": 0.08}


def coverage_states(env, oracle, *, obs_kind: str, n: int, seed: int, pixel_band: float) -> dict:
    """At least n settled states (STATES_PER_LAYOUT per reset layout), what a program sees in each,
    and the oracle's labels.  Each state depends only on (seed, its layout, its index), so the
    same arguments give the same arrays.  "unsettled": per fact, states a top-down frame cannot
    settle (a block hidden under another, or its centre within pixel_band of its bowl's wall)."""
    u = env.unwrapped
    frames, labels, success, words, unsettled = [], [], [], [], []
    try:
        for k in range(n):
            layout, slot = divmod(k, STATES_PER_LAYOUT)
            if slot == 0:
                env.reset(seed=seed * 100_000 + layout)
            rng = np.random.default_rng([seed, layout, slot])
            places = u.draw_places(rng)
            u.place_blocks([p for _, p in places])
            frames.append(u.state_vector() if obs_kind == "state" else u.render_frame())
            labels.append(oracle(env))
            success.append(u.is_success())
            words.append(_describe(u, [w for w, _ in places]))
            unsettled.append(u.unsettled(pixel_band) if obs_kind != "state" else {})
    finally:
        env.close()
    facts = {k: np.array([bool(lab[k]) for lab in labels]) for k in labels[0] if isinstance(labels[0][k], bool)}
    out_unsettled = {k: np.array([flags.get(k, False) for flags in unsettled]) for k in facts}
    groups: dict[str, int] = {}
    for w in words:
        for part in w.split("; "):
            key = part.split(" ", 1)[1].split(" (")[0]
            groups[key] = groups.get(key, 0) + 1
    return {"frames": np.stack(frames), "facts": facts, "success": np.array(success),
            "descriptions": np.array([w.encode() for w in words]),
            "unsettled": {k: v for k, v in out_unsettled.items() if k in facts}, "groups": groups}


def _draw_places(rng: np.random.Generator, bowls: np.ndarray) -> list[tuple[str, tuple]]:
    """A (where, (x, y, z, yaw)) per block, clear of one another, blocks stacked after their base."""
    lo, hi = WORKSPACE
    for _ in range(1000):
        kinds = rng.choice(list(PLACES), size=3, p=list(PLACES.values()))
        poses: list = [None] * 3
        order = sorted(range(3), key=lambda i: kinds[i] == "stacked")
        ok = True
        for i in order:
            yaw = rng.uniform(0, np.pi / 2)
            if kinds[i] == "stacked":
                base = [j for j in range(3) if j != i and kinds[j] != "stacked"]
                if not base:
                    ok = False
                    break
                j = base[rng.integers(len(base))]
                if rng.random() < 0.5:   # half the stacks stand in the top block's own bowl
                    kinds[j] = "other_bowl"
                    r, a = rng.uniform(0, 0.03), rng.uniform(0, 2 * np.pi)
                    poses[j] = (bowls[i, 0] + r * np.cos(a), bowls[i, 1] + r * np.sin(a),
                                BOWL_FLOOR + BLOCK_HALF + 0.0003, poses[j][3])
                x, y, z, _ = poses[j]
                poses[i] = (x + rng.uniform(-0.01, 0.01), y + rng.uniform(-0.01, 0.01), z + 2 * BLOCK_HALF + 0.002, yaw)
                continue
            bowl = i if kinds[i] in ("own_bowl", "rim") else int(rng.integers(3))
            if kinds[i] == "other_bowl":
                bowl = int((i + 1 + rng.integers(2)) % 3)
            a = rng.uniform(0, 2 * np.pi)
            r, z = {"own_bowl": (rng.uniform(0, 0.03), BOWL_FLOOR + BLOCK_HALF + 0.0003),
                    "other_bowl": (rng.uniform(0, 0.03), BOWL_FLOOR + BLOCK_HALF + 0.0003),
                    "outside": (BOWL_OUTER + BLOCK_HALF * rng.uniform(1.05, 1.5), BLOCK_HALF + 0.0003),
                    "rim": (BOWL_INNER + BOWL_WALL * rng.uniform(0, 1), BOWL_HEIGHT + BLOCK_HALF + 0.002),
                    "table": (None, BLOCK_HALF + 0.0003)}[kinds[i]]
            if r is None:
                x, y = rng.uniform(lo + 0.03, hi - 0.03, 2)
                if np.min(np.linalg.norm(bowls[:, :2] - [x, y], axis=1)) < BOWL_OUTER + 0.035:
                    ok = False
                    break
            else:
                x, y = bowls[bowl, 0] + r * np.cos(a), bowls[bowl, 1] + r * np.sin(a)
            poses[i] = (x, y, z, yaw)
        flat = [p for i, p in enumerate(poses) if ok and kinds[i] != "stacked"]
        if ok and all(np.hypot(p[0] - q[0], p[1] - q[1]) > 0.062 for a, p in enumerate(flat) for q in flat[a + 1:]):
            return list(zip(kinds, poses))
    raise RuntimeError("no clear placement of the blocks found in 1000 draws")


def _describe(u, kinds) -> str:
    pos = u.block_positions()
    return "; ".join(f"{c} {k} (x {pos[i, 0]:+.3f}, y {pos[i, 1]:+.3f}, z {pos[i, 2]:.3f})"
                     for i, (c, k) in enumerate(zip(u.colours, kinds)))


def _unsettled(u, band: float) -> np.ndarray:
    """Per block: hidden under another block, or its centre within `band` of its bowl's wall."""
    pos, bowls = u.block_positions(), u.receptacle_positions()
    gap = np.linalg.norm(pos[:, :2] - bowls[:, :2], axis=1)
    out = np.abs(gap - BOWL_INNER) < band
    for i in range(3):
        for j in range(3):
            if i != j and pos[j, 2] > pos[i, 2] + BLOCK_HALF and np.linalg.norm(pos[j, :2] - pos[i, :2]) < 0.045:
                out[i] = True
    return out


ADAPTER = TabletopAdapter()
