"""Coverage states for the Panda suites: states set directly in PyBullet, not reached by play.

Episodes only show what the expert and random play happen to visit.  The coverage stage
needs the states where a wrong check shows itself: the gripper beside the object just
inside or outside the reach threshold, from every side and from above; the object just
inside or outside each distance threshold to the target; an object lifted off the table,
where a 2-D distance and the environment's 3-D test disagree; an object in motion.
`coverage_states(suite, n, seed)` builds at least `n` such states in named groups,
deterministically from `seed`, and returns for each what a program of the suite sees,
the oracle's facts and measures and the environment's own success test.

How a state is set (no physics step is taken, so nothing moves between setting a state
and reading it):

- the object: resetBasePositionAndOrientation (a rotation about the vertical axis only)
  and resetBaseVelocity (linear velocity; angular velocity zero);
- the target: panda-gym's `task.goal` (what the observation and success test read) and
  its ghost body, at the height the task gives its goals;
- the gripper: the arm's seven joints by inverse kinematics for panda-gym's end-effector
  link, pointing down as panda-gym's Panda asks for it on every step (Newton steps on
  PyBullet's Jacobian, to 1e-7 m), started from the neutral pose so that a state does not
  depend on the one before it; a gripper velocity is set as joint velocities through the
  same Jacobian.

A gripper position the arm cannot reach pointing down (inverse kinematics more than
IK_TOLERANCE off, or a joint outside its limits) is drawn again, and so is a gripper
overlapping the object, except where the group means the gripper to touch the object:
then it is moved out of the object until it is clear by less than a millimetre.  The
oracle's thresholds are not copied from the suites' oracle.py: they are measured from the
oracle itself by bisection (`measure_thresholds`), so the states straddle whatever
thresholds the oracle uses.
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np

from carverify.envs import panda_sim as panda

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)       # panda.urdf: the seven revolute arm joints
FINGER_JOINTS = (9, 10)                  # blocked closed in Push and Slide
EE_LINK = 11                             # panda-gym's end-effector link (between the fingertips)
DOWN = (1.0, 0.0, 0.0, 0.0)              # the gripper pointing down, as panda-gym's Panda asks IK for
IK_TOLERANCE = 1e-6                      # metres: far below the 1 mm margins around each threshold
IK_STEPS = 10                            # Newton steps; a reachable pose needs four or five
# Horizontal distance from the arm's base where the gripper can point down (measured: all of
# 0.35-0.75 m, 96% at 0.30-0.35 m, 8% at 0.80-0.85 m): outside it, skip inverse kinematics.
REACH_RING = (0.30, 0.82)
EE_MIN_Z = 0.012                         # the fingertips reach 11 mm below the end effector: off the table
EE_MAX_Z = 0.25
STEP_OUT = 0.001                         # a gripper moved out of the object ends up this close to touching it
FINGER_MIN = 0.009                       # the closed fingers reach at least 1 cm out from the end effector:
                                         # a touching gripper starts this far out from the object's side
MARGINS = (0.001, 0.003)                 # "just inside / just outside" a threshold, metres
# Threshold fallbacks, used only when the oracle lacks the fact that the bisection reads.
DEFAULT_THRESHOLDS = {"reach": 0.06, "reach_height": 0.05, "near": 0.10, "tolerance": 0.07}

# Share of n per group, and what the group covers (summary and docs say the same).
GROUPS = {
    "reach_side": (0.25, "gripper beside the object from +x, -x, +y, -y and the diagonals: touching it, "
                         "horizontal distances just inside and outside the reach threshold and farther, "
                         "heights from the object's centre to just above the reach height"),
    "reach_above": (0.10, "gripper over the object (horizontal offsets from 0 to just past the reach "
                          "threshold), from just clear of its top to well above, straddling the reach height"),
    "target_table": (0.20, "object resting on the table at 3-D distances to the target just inside and "
                           "outside the at-target, almost-at-target and near thresholds, and far away"),
    "target_lifted": (0.10, "object's centre 1-6 cm above the target's (lifted off the table): "
                            "horizontally within a threshold but 3-D outside it, and within both"),
    "moving": (0.15, "object moving (0.002-1 m/s, horizontal), near the target or anywhere, "
                     "half of them with the gripper moving too, a quarter with it pushing the object"),
    "random": (0.20, "object, target and gripper spread uniformly over the workspace, object turned "
                     "at random, all still"),
}
LEFT_OUT_PIXELS = "objects partly or wholly outside the frame (a program could not see them); "
LEFT_OUT = (
    "objects tipped over, tilted or spinning (only turns about the vertical axis; angular velocity 0); "
    "objects off the table, below its top, or moving vertically; the gripper overlapping the object or "
    "the table (the simulator would push them apart: such draws are moved out or redrawn); gripper "
    "positions the arm cannot reach pointing down (redrawn); open fingers (the gripper is blocked "
    "closed in these tasks); targets outside the task's goal range; contact forces and motor targets "
    "(no physics step is taken: a moving object has its velocity, not the push that caused it)."
)


# -- the scene: one env, its bodies and how to set each part of a state -----------------------
class _Scene:
    def __init__(self, env, view=None):
        self.env = env
        u = env.unwrapped
        self.u = u
        self.client = u.sim.physics_client
        self.robot = u.sim._bodies_idx[u.robot.body_name]
        self.object = u.sim._bodies_idx["object"]
        self.neutral = np.asarray(u.robot.neutral_joint_values, dtype=np.float64)
        self.base = np.asarray(u.sim.get_base_position(u.robot.body_name), dtype=np.float64)
        limits = [self.client.getJointInfo(self.robot, j)[8:10] for j in ARM_JOINTS]
        self.lower = np.array([low for low, _ in limits])
        self.upper = np.array([high for _, high in limits])
        self._link_state = self._pb("getLinkState")
        self._reset_joints = self._pb("resetJointStatesMultiDof")
        self._joint_states = self._pb("getJointStates")
        self._calculate_jacobian = self._pb("calculateJacobian")
        self._closest_points = self._pb("getClosestPoints")
        for joint in FINGER_JOINTS:
            self.client.resetJointState(self.robot, joint, 0.0, 0.0)
        # Resting height from the collision shape: half the cube's 4 cm, half the puck's 3 cm.
        # (Slide's task puts its objects and goals at half the puck's *width*, 3 cm: the puck
        # drops to 1.5 cm on the first step, while the goal stays at 3 cm.)
        self.set_object([0.0, 0.0, 1.0], 0.0, (0.0, 0.0, 0.0))
        low, high = self.client.getAABB(self.object)
        self.rest_z = (high[2] - low[2]) / 2
        self.top_z = 2 * self.rest_z
        self.half_width = (high[0] - low[0]) / 2
        shape = self.client.getCollisionShapeData(self.object, -1)[0][2]
        self.noun = "puck" if shape == self.client.GEOM_CYLINDER else "cube"
        self.goal_z = float(u.task.goal[2])
        self.goal_low = np.asarray(u.task.goal_range_low, dtype=np.float64)[:2]
        self.goal_high = np.asarray(u.task.goal_range_high, dtype=np.float64)[:2]
        self.obj_low = np.asarray(u.task.obj_range_low, dtype=np.float64)[:2]
        self.obj_high = np.asarray(u.task.obj_range_high, dtype=np.float64)[:2]
        table_low, table_high = self.client.getAABB(u.sim._bodies_idx["table"])
        # Where the object may lie: on the table with its whole footprint, a centimetre in.
        inset = self.half_width + 0.01
        self.table_low = np.array(table_low[:2]) + inset
        self.table_high = np.array(table_high[:2]) - inset
        if view is not None:
            # Pixel suites: the whole object in the frame too, or a program could not see it.
            self.table_low = np.maximum(self.table_low, np.asarray(view[0]) + inset)
            self.table_high = np.minimum(self.table_high, np.asarray(view[1]) - inset)
        # Where objects go in play: the start square, the goal square and the way between them.
        self.play_low = np.maximum(np.minimum(self.obj_low, self.goal_low) - 0.1, self.table_low)
        self.play_high = np.minimum(np.maximum(self.obj_high, self.goal_high) + 0.1, self.table_high)
        # The gripper's box (the arm reaches x ~ 0.2 pointing down; IK rejects the rest).
        self.ee_low = np.array([max(self.play_low[0], -0.35), -0.3, EE_MIN_Z])
        self.ee_high = np.array([0.25, 0.3, EE_MAX_Z])

    # object and target
    def set_object(self, position, yaw: float, velocity) -> None:
        quat = self.client.getQuaternionFromEuler([0.0, 0.0, float(yaw)])
        self.client.resetBasePositionAndOrientation(self.object, [float(v) for v in position], quat)
        self.client.resetBaseVelocity(self.object, [float(v) for v in velocity], [0.0, 0.0, 0.0])

    def set_target(self, position) -> None:
        goal = np.asarray(position, dtype=np.float64).copy()
        self.u.task.goal = goal
        self.u.sim.set_base_pose("target", goal, np.array([0.0, 0.0, 0.0, 1.0]))

    # gripper
    def _pb(self, name):
        # pybullet's functions themselves: BulletClient wraps each call in a partial, and
        # the calls below run tens of thousands of times.
        import pybullet
        function = getattr(pybullet, name)
        client = self.client._client
        return lambda *args, **kwargs: function(*args, physicsClientId=client, **kwargs)

    def ee_pose(self) -> tuple[np.ndarray, np.ndarray]:
        link = self._link_state(self.robot, EE_LINK, computeForwardKinematics=True)
        return np.array(link[4]), np.array(link[5])

    def ee_position(self) -> np.ndarray:
        return self.ee_pose()[0]

    def set_joints(self, angles, velocities=None) -> None:
        velocities = np.zeros(len(ARM_JOINTS)) if velocities is None else velocities
        self._reset_joints(self.robot, list(ARM_JOINTS), [[float(a)] for a in angles],
                           [[float(v)] for v in velocities])

    def joints(self) -> np.ndarray:
        return np.array([state[0] for state in self._joint_states(self.robot, list(ARM_JOINTS))])

    def joint_velocities(self) -> np.ndarray:
        return np.array([state[1] for state in self._joint_states(self.robot, list(ARM_JOINTS))])

    def _jacobian(self, angles) -> np.ndarray:
        """6 x 7: end-effector linear and angular velocity per arm joint velocity (world frame)."""
        movable = [*(float(a) for a in angles), 0.0, 0.0]
        zeros = [0.0] * len(movable)
        linear, angular = self._calculate_jacobian(self.robot, EE_LINK, [0.0, 0.0, 0.0], movable, zeros, zeros)
        return np.vstack([np.asarray(linear)[:, :7], np.asarray(angular)[:, :7]])

    def move_gripper(self, position, *, from_neutral: bool = True) -> float:
        """Set the arm so the end effector is at `position`, pointing down; returns how far off it is
        (infinite when the arm cannot: a joint outside its limits, or the gripper not pointing down).

        Newton's method on the end effector's position and orientation with PyBullet's own
        Jacobian: from the neutral pose it converges to 1e-7 m in four or five steps, where
        PyBullet's damped calculateInverseKinematics needs ~200 iterations (2 ms) for 1e-4 m.
        Plain floats inside the loop: it runs a few thousand times per suite, and numpy's
        per-call overhead on 3-vectors would cost more than the simulator calls.
        """
        tx, ty, tz = (float(v) for v in position)
        angles = self.neutral[:7].copy() if from_neutral else self.joints()
        self.set_joints(angles)
        damping = 1e-9 * np.eye(6)
        for _ in range(IK_STEPS):
            miss, error, turned = self._miss(tx, ty, tz)
            if error < 1e-7 and turned < 1e-6:
                break
            jacobian = self._jacobian(angles)
            # The smallest joint step that removes the miss (7 joints, 6 constraints), damped
            # so that a pose near a singularity does not throw the arm around.
            step = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + damping, miss)
            size = math.sqrt(float(step @ step))
            if size > 0.5:
                step *= 0.5 / size
            angles = angles + step
            self.set_joints(angles)
        _, error, turned = self._miss(tx, ty, tz)
        if turned > 1e-4:
            return math.inf
        # A revolute joint's angle is only defined up to a turn: compare with the limits in (-pi, pi].
        wrapped = (angles + np.pi) % (2 * np.pi) - np.pi
        if np.any(wrapped < self.lower) or np.any(wrapped > self.upper):
            return math.inf
        if np.any(wrapped != angles):
            self.set_joints(wrapped)
        return error

    def _miss(self, tx: float, ty: float, tz: float) -> tuple[np.ndarray, float, float]:
        """The end effector's miss: (dx, dy, dz, rotation to pointing down), its distance, its angle."""
        link = self._link_state(self.robot, EE_LINK, computeForwardKinematics=True)
        px, py, pz = link[4]
        qx, qy, qz, qw = link[5]
        dx, dy, dz = tx - px, ty - py, tz - pz
        # DOWN * inverse(q) for DOWN = (1, 0, 0, 0), written out: (qw, qz, -qy, qx).
        rx, ry, rz, rw = qw, qz, -qy, qx
        if rw < 0:       # the shorter way round
            rx, ry, rz, rw = -rx, -ry, -rz, -rw
        sine = math.sqrt(rx * rx + ry * ry + rz * rz)
        angle = 2 * math.atan2(sine, rw)
        scale = angle / sine if sine > 1e-12 else 2.0
        miss = np.array([dx, dy, dz, rx * scale, ry * scale, rz * scale])
        return miss, math.sqrt(dx * dx + dy * dy + dz * dz), angle

    def set_gripper_velocity(self, velocity) -> None:
        """Joint velocities that move the end effector at `velocity` (m/s), gripper not turning."""
        angles = self.joints()
        wanted = np.concatenate([np.asarray(velocity, dtype=np.float64), np.zeros(3)])
        self.set_joints(angles, np.linalg.lstsq(self._jacobian(angles), wanted, rcond=None)[0])

    def within_reach(self, position) -> bool:
        """Cheap test before inverse kinematics: pointing down, the arm reaches a ring around its base."""
        return REACH_RING[0] <= math.hypot(position[0] - self.base[0], position[1] - self.base[1]) <= REACH_RING[1]

    def overlaps(self) -> bool:
        return any(p[8] < 0.0 for p in self._closest_points(self.robot, self.object, 0.0))


# -- the oracle's thresholds, measured -------------------------------------------------------
def _bisect(holds, inside: float, outside: float, steps: int = 24) -> float | None:
    """Where `holds` turns from true (at `inside`) to false (at `outside`), to (outside-inside)/2**steps;
    None when it is not true at one end and false at the other (not a threshold on this line)."""
    if not holds(inside) or holds(outside):
        return None
    for _ in range(steps):
        middle = (inside + outside) / 2
        if holds(middle):
            inside = middle
        else:
            outside = middle
    return (inside + outside) / 2


def measure_thresholds(scene: _Scene, oracle) -> tuple[dict, list[str]]:
    """The oracle's reach radius and height and its near / almost-at distances, measured on the
    real env by bisection (the suites' oracle.py pass them as arguments nothing else can read),
    plus the env's own success distance.  Returns the values and the names that could not be
    measured (fact missing, or not a threshold on the line tried) and fall back to DEFAULT_THRESHOLDS."""
    facts = oracle(scene.env)
    found = {"success": float(scene.u.task.distance_threshold)}
    base = np.array([0.0, 0.0, scene.rest_z])
    scene.set_target([0.3, 0.3, scene.goal_z])
    if "reached" in facts:
        scene.move_gripper(base)

        def reached_at(dx):          # the object slid away from a low gripper
            scene.set_object(base + [dx, 0.0, 0.0], 0.0, (0.0, 0.0, 0.0))
            return bool(oracle(scene.env)["reached"])
        found["reach"] = _bisect(reached_at, 0.0, 0.5)
        scene.set_object(base, 0.0, (0.0, 0.0, 0.0))

        def reached_below(z):        # the gripper raised straight above the object
            scene.move_gripper([0.0, 0.0, z], from_neutral=False)
            return bool(oracle(scene.env)["reached"])
        found["reach_height"] = _bisect(reached_below, EE_MIN_Z, EE_MAX_Z)
    for fact, name in (("near_target", "near"), ("almost_at_target", "tolerance")):
        if fact in facts:
            def holds(dx, fact=fact):    # the object slid away from the target, level with it
                scene.set_object([0.1 + dx, 0.0, scene.goal_z], 0.0, (0.0, 0.0, 0.0))
                return bool(oracle(scene.env)[fact])
            scene.set_target([0.1, 0.0, scene.goal_z])
            found[name] = _bisect(holds, 0.0, 1.0)
    assumed = [name for name in DEFAULT_THRESHOLDS if found.get(name) is None]
    for name in assumed:
        found[name] = DEFAULT_THRESHOLDS[name]
    return found, assumed


# -- drawing states ----------------------------------------------------------------------------
class _Spec:
    """One state to set: what is asked for, and how to resolve a gripper inside the object."""

    def __init__(self, ee, obj, target, *, yaw=0.0, obj_velocity=(0.0, 0.0, 0.0),
                 ee_velocity=(0.0, 0.0, 0.0), escape=None):
        self.ee = np.asarray(ee, dtype=np.float64)
        self.obj = np.asarray(obj, dtype=np.float64)
        self.target = np.asarray(target, dtype=np.float64)
        self.yaw = float(yaw)
        self.obj_velocity = np.asarray(obj_velocity, dtype=np.float64)
        self.ee_velocity = np.asarray(ee_velocity, dtype=np.float64)
        self.escape = None if escape is None else np.asarray(escape, dtype=np.float64)


DIRECTIONS = {"+x": 0.0, "+x+y": 45.0, "+y": 90.0, "-x+y": 135.0, "-x": 180.0, "-x-y": 225.0,
              "-y": 270.0, "+x-y": 315.0}


def _unit(degrees: float) -> np.ndarray:
    return np.array([math.cos(math.radians(degrees)), math.sin(math.radians(degrees))])


def _cycle(k: int, n: int, salt: int) -> int:
    """The k-th entry of a fixed permutation of range(n): every combination once before any twice."""
    return int(_permutation(n, salt)[k % n])


@functools.lru_cache(maxsize=64)
def _permutation(n: int, salt: int) -> np.ndarray:
    return np.random.default_rng([salt, n]).permutation(n)


class _Planner:
    def __init__(self, scene: _Scene, limits: dict):
        self.s = scene
        self.t = limits

    def target(self, rng):
        return np.array([*rng.uniform(self.s.goal_low, self.s.goal_high), self.s.goal_z])

    def reach_object(self, rng):
        """An object anywhere objects go in play; those the arm cannot get at are drawn again."""
        return np.array([*rng.uniform(self.s.play_low, self.s.play_high), self.s.rest_z])

    def target_for(self, rng, obj):
        """Half the time a target anywhere in the goal square, half the time one at a distance from
        the object that straddles a threshold (when the goal square has such a point)."""
        if rng.random() < 0.5:
            distances = self._distances()
            distance = distances[int(rng.integers(len(distances)))]
            horizontal = math.sqrt(max(distance ** 2 - (self.s.goal_z - obj[2]) ** 2, 0.0))
            for _ in range(20):
                xy = obj[:2] + _unit(rng.uniform(0.0, 360.0)) * horizontal
                if np.all(xy >= self.s.goal_low) and np.all(xy <= self.s.goal_high):
                    return np.array([*xy, self.s.goal_z])
        return self.target(rng)

    def free_gripper(self, rng):
        return rng.uniform(self.s.ee_low, self.s.ee_high)

    def on_table(self, xy) -> bool:
        return bool(np.all(xy >= self.s.table_low) and np.all(xy <= self.s.table_high))

    # group by group; k is the slot's index within its group
    def reach_side(self, rng, k):
        reach, height = self.t["reach"], self.t["reach_height"]
        offsets = [self.s.half_width + FINGER_MIN, (self.s.half_width + reach) / 2,
                   *(reach - m for m in MARGINS), *(reach + m for m in MARGINS), reach + 0.015, reach + 0.05]
        heights = [self.s.rest_z, max(EE_MIN_Z, self.s.rest_z - 0.006), *(height - m for m in MARGINS),
                   *(height + m for m in MARGINS), height + 0.02, 0.12]
        names = list(DIRECTIONS)
        combo = _cycle(k, len(names) * len(offsets) * len(heights), 1)
        d, rest = divmod(combo, len(offsets) * len(heights))
        o, h = divmod(rest, len(heights))
        angle = DIRECTIONS[names[d]] + (rng.uniform(-8.0, 8.0) if rng.random() < 0.5 else 0.0)
        obj = self.reach_object(rng)
        way = _unit(angle)
        ee = np.array([*(obj[:2] + way * offsets[o]), heights[h]])
        yaw = 0.0 if rng.random() < 0.5 else rng.uniform(-math.pi, math.pi)
        return _Spec(ee, obj, self.target_for(rng, obj), yaw=yaw, escape=[*way, 0.0])

    def reach_above(self, rng, k):
        reach, height = self.t["reach"], self.t["reach_height"]
        offsets = [0.0, 0.01, self.s.half_width, reach / 2, reach - MARGINS[0], reach + MARGINS[0]]
        heights = [self.s.top_z + 0.012, *(height - m for m in MARGINS), *(height + m for m in MARGINS),
                   self.s.top_z + 0.03, 0.1, 0.2]
        combo = _cycle(k, len(offsets) * len(heights), 2)
        o, h = divmod(combo, len(heights))
        obj = self.reach_object(rng)
        ee = np.array([*(obj[:2] + _unit(rng.uniform(0.0, 360.0)) * offsets[o]), heights[h]])
        yaw = 0.0 if rng.random() < 0.5 else rng.uniform(-math.pi, math.pi)
        return _Spec(ee, obj, self.target_for(rng, obj), yaw=yaw, escape=[0.0, 0.0, 1.0])

    def _distances(self):
        """3-D object-target distances: each threshold's two sides, then near and far."""
        t = self.t
        edges = [t["success"], t["tolerance"], t["near"]]
        return [0.0, 0.02, *(e + s * m for e in edges for m in MARGINS for s in (-1, 1)),
                0.15, 0.2, 0.3, 0.45]

    def object_at_distance(self, rng, target, distance):
        """An object resting on the table at `distance` (3-D) from `target`.

        Where the object rests below the target's centre (Slide: 1.5 cm), a 3-D distance
        shorter than that gap cannot be had on the table: the object goes right under it."""
        z = self.s.rest_z
        dz = abs(z - target[2])
        horizontal = math.sqrt(max(distance ** 2 - dz ** 2, 0.0))
        for _ in range(40):
            xy = target[:2] + _unit(rng.uniform(0.0, 360.0)) * horizontal
            if self.on_table(xy):
                return np.array([*xy, z])
        return None

    def target_table(self, rng, k):
        distances = self._distances()
        # Slide's resting puck is below the target's centre: on a band of horizontal distances
        # just under the success distance the 3-D test fails, so ask for those too.
        gap = abs(self.s.goal_z - self.s.rest_z)
        if gap > 1e-3:
            edge = math.sqrt(self.t["success"] ** 2 - gap ** 2)
            distances += [math.hypot(edge + (self.t["success"] - edge) / 2, gap), math.hypot(edge - 0.001, gap)]
        target = self.target(rng)
        obj = self.object_at_distance(rng, target, distances[_cycle(k, len(distances), 3)])
        if obj is None:
            return None
        return _Spec(self._gripper_for(rng, obj), obj, target, yaw=rng.uniform(-math.pi, math.pi))

    def target_lifted(self, rng, k):
        """Within a threshold horizontally, lifted so the 3-D distance is just outside (even k)
        or still inside (odd k) it: a 2-D check and the 3-D test disagree on the first kind."""
        edges = [self.t["success"], self.t["tolerance"], self.t["near"]]
        edge = edges[_cycle(k // 2, len(edges), 4)]
        target = self.target(rng)
        for _ in range(40):
            rise = rng.uniform(0.01, 0.06)          # the object's centre above the target's
            if k % 2 == 0:
                # The 3-D distance can exceed the edge by at most what the rise alone adds.
                most = min(0.01, rise ** 2 / (2 * edge) * 0.9)
                distance = edge + rng.uniform(min(MARGINS[0], most / 2), most)
            else:
                distance = edge - rng.uniform(MARGINS[0], 0.02)
            if rise >= distance:
                continue
            horizontal = math.sqrt(distance ** 2 - rise ** 2)
            z = target[2] + rise
            if z - self.s.rest_z < 0.005:
                continue
            xy = target[:2] + _unit(rng.uniform(0.0, 360.0)) * horizontal
            if self.on_table(xy):
                obj = np.array([*xy, z])
                return _Spec(self._gripper_for(rng, obj), obj, target, yaw=rng.uniform(-math.pi, math.pi))
        return None

    def moving(self, rng, k):
        speeds = [0.002, 0.01, 0.05, 0.2, 0.5, 1.0]
        speed = speeds[_cycle(k, len(speeds), 5)]
        heading = _unit(rng.uniform(0.0, 360.0))
        target = self.target(rng)
        if k % 2 == 0:
            distances = self._distances()
            obj = self.object_at_distance(rng, target, distances[_cycle(k // 2, len(distances), 6)])
        elif k % 4 == 1:
            obj = self.reach_object(rng)     # pushed below: the arm must get behind it
            target = self.target_for(rng, obj)
        else:
            obj = np.array([*rng.uniform(self.s.play_low, self.s.play_high), self.s.rest_z])
        if obj is None:
            return None
        ee_velocity = np.zeros(3)
        if k % 4 == 1:
            # Pushing: the gripper behind the object, touching it, moving with it.
            ee = np.array([*(obj[:2] - heading * (self.s.half_width + FINGER_MIN)), self.s.rest_z])
            escape = [*(-heading), 0.0]
            ee_velocity = np.array([*(heading * speed), 0.0])
        else:
            ee, escape = self._gripper_for(rng, obj), None
            if k % 4 == 2:
                ee_velocity = rng.normal(size=3)
                ee_velocity *= rng.uniform(0.01, 0.5) / np.linalg.norm(ee_velocity)
        return _Spec(ee, obj, target, yaw=rng.uniform(-math.pi, math.pi),
                     obj_velocity=[*(heading * speed), 0.0], ee_velocity=ee_velocity, escape=escape)

    def random(self, rng, k):
        obj = np.array([*rng.uniform(self.s.play_low, self.s.play_high), self.s.rest_z])
        return _Spec(self.free_gripper(rng), obj, self.target(rng), yaw=rng.uniform(-math.pi, math.pi))

    def _gripper_for(self, rng, obj):
        """Anywhere in the workspace, or (a third of the time) low beside the object."""
        if rng.random() < 1 / 3:
            way = _unit(rng.uniform(0.0, 360.0))
            return np.array([*(obj[:2] + way * rng.uniform(0.03, 0.09)), rng.uniform(EE_MIN_Z, 0.06)])
        return self.free_gripper(rng)


def _step_out(scene: _Scene, inside: np.ndarray, way: np.ndarray) -> bool:
    """Move the gripper from `inside` the object along `way` until it is just clear (within
    STEP_OUT): coarse steps out, then halving back.  False if the arm cannot follow."""
    def clear_at(position) -> bool | None:
        if scene.move_gripper(position, from_neutral=False) > IK_TOLERANCE:
            return None
        return not scene.overlaps()

    for _ in range(40):
        outside = inside + way * 4 * STEP_OUT
        clear = clear_at(outside)
        if clear is None:
            return False
        if clear:
            break
        inside = outside
    else:
        return False
    while np.linalg.norm(outside - inside) > STEP_OUT * 1.01:
        middle = (inside + outside) / 2
        clear = clear_at(middle)
        if clear is None:
            return False
        if clear:
            outside = middle
        else:
            inside = middle
    # The arm is where it was last asked to be: at `outside` unless that last ask overlapped.
    return bool(clear) or bool(clear_at(outside))


def _realise(scene: _Scene, spec: _Spec) -> bool:
    """Set `spec` in the simulator; False when it cannot be had (IK off, or an overlap it may not resolve)."""
    scene.set_object(spec.obj, spec.yaw, spec.obj_velocity)
    scene.set_target(spec.target)
    ee = spec.ee.copy()
    ee[2] = max(ee[2], EE_MIN_Z)
    if not scene.within_reach(ee) or scene.move_gripper(ee) > IK_TOLERANCE:
        return False
    if scene.overlaps():
        if spec.escape is None or not _step_out(scene, ee, spec.escape):
            return False
    if np.any(spec.ee_velocity):
        scene.set_gripper_velocity(spec.ee_velocity)
        # Near a singular pose the joints cannot give every end-effector velocity: draw again.
        if np.max(np.abs(scene.u.robot.get_ee_velocity() - spec.ee_velocity)) > 1e-6:
            return False
    return True


# -- describing a state ------------------------------------------------------------------------
_SIDES = ("beyond", "beyond and left of", "left of", "on the robot's side and left of",
          "on the robot's side of", "on the robot's side and right of", "right of", "beyond and right of")
_HEADINGS = ("away from the robot", "away and to the left", "to the left", "towards the robot and to the left",
             "towards the robot", "towards the robot and to the right", "to the right", "away and to the right")


def _compass(vector, words) -> str:
    """The one of eight words a horizontal vector points to (+x away from the robot, +y left)."""
    angle = math.degrees(math.atan2(float(vector[1]), float(vector[0]))) % 360.0
    return words[int((angle + 22.5) // 45.0) % 8]


def _side(vector) -> str:
    """Where a horizontal offset points, from the robot's point of view."""
    return _compass(vector, _SIDES)


def _heading(vector) -> str:
    return _compass(vector, _HEADINGS)


def describe(state: np.ndarray, *, noun: str = "cube", rest_z: float = 0.02) -> str:
    """One state vector (panda.STATE_LAYOUT) in words, e.g. for a finding.

    Distances to a tenth of a millimetre: a state chosen a millimetre from a threshold must
    not read as if it sat on it."""
    lay = panda.STATE_LAYOUT
    ee, ee_v = state[lay["ee_position"]], state[lay["ee_velocity"]]
    obj, obj_v = state[lay["object_position"]], state[lay["object_velocity"]]
    target = state[lay["target_position"]]
    offset = ee[:2] - obj[:2]
    apart = float(np.linalg.norm(offset))
    if apart < 0.005:
        where = f"gripper over the {noun}'s centre ({apart * 100:.2f} cm off)"
    else:
        where = f"gripper {apart * 100:.2f} cm {_side(offset)} the {noun}"
    where += f" at {ee[2] * 100:.2f} cm height"
    lift = float(obj[2] - rest_z)
    lying = f"{noun} lifted {lift * 100:.1f} cm" if lift > 0.002 else f"{noun} on the table"
    d3 = float(np.linalg.norm(obj - target))
    d2 = float(np.linalg.norm(obj[:2] - target[:2]))
    gap = f"{d3:.4f} m from the target"
    if abs(d3 - d2) > 0.00005:
        gap += f" ({d2:.4f} m horizontally)"
    speed = float(np.linalg.norm(obj_v))
    motion = "still" if speed < 1e-6 else f"moving {speed:.3f} m/s {_heading(obj_v)}"
    text = f"{where}, {lying} {gap}, {motion}"
    hand = float(np.linalg.norm(ee_v))
    if hand >= 1e-6:
        text += f"; gripper moving {hand:.2f} m/s"
    return text


# -- the public entry point ----------------------------------------------------------------------
def visible_area(suite):
    """The table area a pixel suite's frame shows, ((x_low, y_low), (x_high, y_high)); None for state suites.

    panda.render_frame looks straight down with image up = world +x: the frame's width
    spans `span` metres of y, its height span * height / width metres of x."""
    if suite.obs_kind != "rgb":
        return None
    cfg = panda.frame_settings(suite)
    half_y = cfg["span"] / 2
    half_x = half_y * cfg["height"] / cfg["width"]
    cx, cy = cfg["center"]
    return (cx - half_x, cy - half_y), (cx + half_x, cy + half_y)


def _allocation(n: int) -> dict[str, int]:
    """At least n states, every group at least one, in GROUPS' shares."""
    return {name: max(1, math.ceil(share * n)) for name, (share, _) in GROUPS.items()}


def coverage_states(suite, n: int = 2000, seed: int = 0) -> dict:
    """At least `n` states of a Panda suite set directly in PyBullet, labelled by its oracle.

    Returns {"frames": (N, *obs) what suite.render gives, "facts": {fact: (N,) bool},
    "measures": {name: (N,) float64}, "success": (N,) bool (panda.is_success),
    "describe": [str] * N, "group": (N,) str, "state": (N, STATE_SIZE) float64 (the state
    vector, for pixel suites too), "joints": (N, 7) and "joint_velocities": (N, 7) (the arm;
    with "state" and "yaw" they re-create a state: `restore`), "yaw": (N,) the object's turn
    about the vertical, "summary": {"states", "groups" (name: count), "covers" (name: what),
    "left_out", "thresholds" (measured from the oracle), "thresholds_assumed", "seconds",
    "cpu_seconds"}}.
    Deterministic: the same suite, n and seed give identical arrays.  Each state depends only
    on (seed, group, its index in the group), so a larger n keeps every state of a smaller
    one (group by group, in order) and adds more.
    """
    begin, cpu = time.perf_counter(), time.process_time()
    oracle = suite.oracle()
    env = panda.make_env(suite)
    try:
        env.reset(seed=seed)
        scene = _Scene(env, view=visible_area(suite))
        limits, assumed = measure_thresholds(scene, oracle)
        planner = _Planner(scene, limits)
        records = []
        for g, (group, count) in enumerate(_allocation(n).items()):
            draw = getattr(planner, group)
            for k in range(count):
                # Each slot its own generator: a slot's state does not depend on how many
                # draws the slots before it needed.
                rng = np.random.default_rng([seed, g, k])
                for _ in range(200):
                    spec = draw(rng, k)
                    if spec is not None and _realise(scene, spec):
                        break
                else:
                    raise RuntimeError(f"{suite.name}: no state could be set for group {group} slot {k}")
                records.append(_read(suite, scene, oracle, group, spec))
    finally:
        env.close()
    return _assemble(suite, scene, records, limits,
                     {"thresholds_assumed": assumed, "seconds": round(time.perf_counter() - begin, 3),
                      "cpu_seconds": round(time.process_time() - cpu, 3)})


def _read(suite, scene: _Scene, oracle, group: str, spec: _Spec) -> dict:
    """What the program and the oracle see, read back from the simulator with no step taken."""
    env = scene.env
    state = panda.state_vector(env)
    lay = panda.STATE_LAYOUT
    # The state vector must show what was set: exactly for object and target, and within
    # the IK tolerance for the gripper (which may have been moved out of the object).
    for part, wanted in (("object_position", spec.obj), ("object_velocity", spec.obj_velocity),
                         ("target_position", spec.target), ("ee_velocity", spec.ee_velocity)):
        if np.max(np.abs(state[lay[part]] - wanted)) > 1e-6:
            raise RuntimeError(f"{suite.name}: the state vector's {part} {state[lay[part]]} is not what was "
                               f"set ({wanted})")
    labels = oracle(env)
    return {"group": group, "frame": panda.render(suite, env), "state": state, "labels": labels,
            "success": panda.is_success(env), "joints": scene.joints(),
            "joint_velocities": scene.joint_velocities(),
            "yaw": spec.yaw}


def _assemble(suite, scene: _Scene, records: list[dict], limits: dict, spent: dict) -> dict:
    names = list(records[0]["labels"])
    facts = {k: np.array([bool(r["labels"][k]) for r in records]) for k in names
             if isinstance(records[0]["labels"][k], (bool, np.bool_))}
    measures = {k: np.array([float(r["labels"][k]) for r in records], dtype=np.float64)
                for k in names if k not in facts}
    dtype = np.float64 if suite.obs_kind == "state" else np.uint8
    groups = np.array([r["group"] for r in records])
    counts = {name: int((groups == name).sum()) for name in GROUPS}
    return {
        "frames": np.stack([r["frame"] for r in records]).astype(dtype),
        "facts": facts,
        "measures": measures,
        "success": np.array([r["success"] for r in records], dtype=bool),
        "describe": [describe(r["state"], noun=scene.noun, rest_z=scene.rest_z) for r in records],
        "group": groups,
        "state": np.stack([r["state"] for r in records]),
        "joints": np.stack([r["joints"] for r in records]),
        "joint_velocities": np.stack([r["joint_velocities"] for r in records]),
        "yaw": np.array([r["yaw"] for r in records], dtype=np.float64),
        "summary": {"states": len(records), "groups": counts,
                    "covers": {name: text for name, (_, text) in GROUPS.items()},
                    "left_out": (LEFT_OUT_PIXELS if suite.obs_kind == "rgb" else "") + LEFT_OUT,
                    "thresholds": {k: round(v, 6) for k, v in limits.items()}, **spent},
    }


def restore(env, states: dict, i: int) -> None:
    """Set state i of a coverage_states() result on an env of the same suite (reset it first)."""
    scene = _Scene(env)
    lay = panda.STATE_LAYOUT
    row = states["state"][i]
    scene.set_object(row[lay["object_position"]], states["yaw"][i], row[lay["object_velocity"]])
    scene.set_target(row[lay["target_position"]])
    scene.set_joints(states["joints"][i], states["joint_velocities"][i])
