"""Panda-Gym suites (PandaPush-v3, PandaSlide-v3 on PyBullet, headless): observations, rendering, episodes, training.

A suite.toml with `kind = "panda"` routes here from carverify.suite and carverify.episodes.
What a reward program sees (suite.toml `obs_kind`):

- "state": a 1-D float64 vector of STATE_SIZE values, laid out as STATE_LAYOUT (metres, m/s);
- "rgb": a small top-down RGB frame (uint8, [render] width x height) drawn by PyBullet's
  TinyRenderer (CPU).  Only the gripper's two fingers are drawn of the robot: the arm
  would hide the table from above and costs ~18 ms per frame to rasterise, the fingers ~2 ms.
  The target is drawn as a small red square floating just above the object's top
  (TARGET_MARKER): panda-gym's own target is a translucent green ghost that TinyRenderer
  draws opaque, the same green as the object and at the same height.

The expert (suite expert.py, `act(env) -> action`) and the oracle (suite oracle.py,
`facts(env) -> dict`) read the simulator.  Oracle values that are not truth values (the
object-target distance) are kept as per-frame measures for the progress check.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

# The state vector a state-suite program receives; slices name its parts.
STATE_LAYOUT = {
    "ee_position": slice(0, 3),       # gripper (end-effector) x, y, z
    "ee_velocity": slice(3, 6),
    "object_position": slice(6, 9),   # the cube (push) or puck (slide) centre
    "object_velocity": slice(9, 12),
    "target_position": slice(12, 15),  # centre of the goal marker
}
STATE_SIZE = 15
FINGER_LINKS = (9, 10)  # panda.urdf: the two finger links; every other link is hidden in frames
TARGET_MARKER = {"half_size": 0.01, "height": 0.045, "rgba": (0.9, 0.1, 0.1, 1.0)}


def make_env(suite):
    """The suite's environment: PyBullet DIRECT (no display), TinyRenderer for frames."""
    with _quiet_stdout():  # pybullet prints its build time and connection options on stdout
        import gymnasium
        import panda_gym  # noqa: F401  (registers the Panda*-v3 ids)

        return gymnasium.make(suite.env_id, render_mode="rgb_array", renderer="Tiny")


@contextlib.contextmanager
def _quiet_stdout():
    # The C library writes to file descriptor 1 directly: redirect the descriptor, not sys.stdout.
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        import ctypes
        ctypes.CDLL(None).fflush(None)  # C stdio buffers what it printed: drop it into /dev/null too
        os.dup2(saved, 1)
        os.close(saved)


def state_vector(env) -> np.ndarray:
    """The state observation (STATE_LAYOUT) read from the simulator, float64."""
    u = env.unwrapped
    sim = u.sim
    return np.concatenate([
        u.robot.get_ee_position(), u.robot.get_ee_velocity(),
        sim.get_base_position("object"), sim.get_base_velocity("object"),
        np.asarray(u.task.goal, dtype=np.float64),
    ]).astype(np.float64)


def render(suite, env) -> np.ndarray:
    """What a program of this suite sees: the state vector, or the top-down frame."""
    if suite.obs_kind == "state":
        return state_vector(env)
    return render_frame(env, **frame_settings(suite))


def frame_settings(suite) -> dict:
    cfg = suite.config.get("render", {})
    return {"width": int(cfg.get("width", 64)), "height": int(cfg.get("height", 64)),
            "center": tuple(float(v) for v in cfg.get("center", (0.0, 0.0))),
            "span": float(cfg.get("span", 0.5))}


def render_frame(env, *, width: int, height: int, center: tuple[float, float], span: float) -> np.ndarray:
    """Top-down view from 1.5 m above `center`; `span` metres of table fill the frame's width.

    Image up is world +x (away from the robot's base), image right is world -y.  The
    narrow field of view makes the projection nearly orthographic: one pixel is
    span / width metres on the table plane at every position, and ~3% less at the
    height of an object's top face (1.5 m / (1.5 m - 4 cm)).
    """
    import pybullet

    u = env.unwrapped
    client = u.sim.physics_client
    marker = _prepare_scene(env)
    client.resetBasePositionAndOrientation(marker, [float(u.task.goal[0]), float(u.task.goal[1]),
                                                    TARGET_MARKER["height"]], [0.0, 0.0, 0.0, 1.0])
    height_m = 1.5
    eye = [center[0], center[1], height_m]
    view = client.computeViewMatrix(cameraEyePosition=eye, cameraTargetPosition=[center[0], center[1], 0.0],
                                    cameraUpVector=[1.0, 0.0, 0.0])
    half_w = span / 2 * 0.1 / height_m            # frustum at the near plane (0.1 m)
    half_h = half_w * height / width
    projection = client.computeProjectionMatrix(-half_w, half_w, -half_h, half_h, 0.1, 3.0)
    _, _, rgba, _, _ = client.getCameraImage(width=width, height=height, viewMatrix=view,
                                             projectionMatrix=projection, shadow=False,
                                             renderer=pybullet.ER_TINY_RENDERER,
                                             flags=pybullet.ER_NO_SEGMENTATION_MASK)
    return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()


def _prepare_scene(env) -> int:
    """Once per env: hide the arm and panda-gym's target, add the visual-only target marker.

    The marker has no collision shape and no mass, so the physics is unchanged.
    """
    import pybullet

    u = env.unwrapped
    marker = getattr(u, "_carverify_marker", None)
    if marker is not None:
        return marker
    client = u.sim.physics_client
    invisible = [0.0, 0.0, 0.0, 0.0]
    body = u.sim._bodies_idx[u.robot.body_name]
    for link in range(-1, client.getNumJoints(body)):
        if link not in FINGER_LINKS:
            client.changeVisualShape(body, link, rgbaColor=invisible)
    client.changeVisualShape(u.sim._bodies_idx["target"], -1, rgbaColor=invisible)
    half = TARGET_MARKER["half_size"]
    shape = client.createVisualShape(pybullet.GEOM_BOX, halfExtents=[half, half, 0.0005],
                                     rgbaColor=list(TARGET_MARKER["rgba"]))
    marker = client.createMultiBody(baseMass=0.0, baseVisualShapeIndex=shape, basePosition=[0.0, 0.0, -1.0])
    u._carverify_marker = marker
    return marker


def object_target_distance(env) -> float:
    u = env.unwrapped
    obj = np.asarray(u.sim.get_base_position("object"), dtype=np.float64)
    return float(np.linalg.norm(obj - np.asarray(u.task.goal, dtype=np.float64)))


def is_success(env) -> bool:
    """The environment's own success test (on its float32 achieved/desired goals)."""
    u = env.unwrapped
    achieved = u.task.get_achieved_goal().astype(np.float32)
    return bool(u.task.is_success(achieved, u.task.get_goal().astype(np.float32)))


def oracle_facts(env, *, reach: float, reach_height: float, near: float, tolerance: float) -> dict:
    """Sub-task facts read from the simulator, plus the object-target distance (a measure).

    reached: the gripper is within `reach` m of the object horizontally and below
    `reach_height` m (at the object, not above it); near_target: object within `near` m
    of the target; at_target: the environment's own success test; almost_at_target:
    within `tolerance` m (the forgiveness band for pixel goal checks).
    """
    s = state_vector(env)
    ee, obj = s[STATE_LAYOUT["ee_position"]], s[STATE_LAYOUT["object_position"]]
    distance = object_target_distance(env)
    return {
        "reached": bool(np.linalg.norm(ee[:2] - obj[:2]) < reach and ee[2] < reach_height),
        "near_target": bool(distance < near),
        "at_target": is_success(env),
        "almost_at_target": bool(distance < tolerance),
        "distance": distance,
    }


# -- episodes -----------------------------------------------------------------------
def simulate(suite, seed: int, policy: str, horizon: int | None = None, env=None, switch_after: str | None = None):
    """One episode from `seed`: the expert, or uniform random actions from default_rng(seed).

    frames[t] is what a program sees after reset (t = 0) and after each step; the
    episode stops at the environment's success (it terminates) or its time limit.  A
    reset that already succeeds ends the episode at frame 0.
    """
    from carverify.episodes import Episode, policy_label, switch_point

    if policy not in ("expert", "random", "perturbed"):
        raise ValueError(f"policy must be 'expert', 'random' or 'perturbed', got {policy!r}")
    own = env is None
    env = make_env(suite) if own else env
    try:
        oracle = suite.oracle()
        choose = suite.expert() if policy != "random" else None
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        shape = env.action_space.shape
        limit = env.spec.max_episode_steps if horizon is None or policy == "perturbed" else horizon
        frames, actions, labels = [render(suite, env)], [], [oracle(env)]
        success_step = 0 if is_success(env) else None
        switch = switch_point(policy, switch_after, labels[0])
        while success_step is None and len(actions) < limit and (switch is None or len(actions) < switch + horizon):
            action = (np.asarray(choose(env), dtype=np.float64) if choose and switch is None
                      else rng.uniform(-1.0, 1.0, shape))
            _, _, terminated, truncated, info = env.step(action.astype(np.float32))
            actions.append(action)
            frames.append(render(suite, env))
            labels.append(oracle(env))
            if switch is None:
                switch = switch_point(policy, switch_after, labels[-1], len(actions))
            if info.get("is_success"):
                success_step = len(frames) - 1
            if terminated or truncated:
                break
    finally:
        if own:
            env.close()
    names = list(labels[0])
    facts = {k: np.array([bool(f[k]) for f in labels]) for k in names if isinstance(labels[0][k], (bool, np.bool_))}
    measures = {k: np.array([float(f[k]) for f in labels]) for k in names if k not in facts}
    dtype = np.float64 if suite.obs_kind == "state" else np.uint8
    return Episode(seed=seed, policy=policy_label(policy, switch_after), frames=np.stack(frames).astype(dtype),
                   actions=np.asarray(actions, dtype=np.float64).reshape(len(actions), *shape),
                   success=success_step is not None, success_step=success_step, facts=facts,
                   measures=measures)


def cache_labels() -> tuple[str, ...]:
    """Versions that shape a Panda episode, for the episode cache key."""
    import importlib.metadata as md

    return tuple(f"{name}={md.version(name)}" for name in ("panda-gym", "pybullet", "gymnasium"))


def step_seconds(suite, steps: int = 100) -> float:
    """Median seconds of one random env.step plus the observation a program sees."""
    import statistics

    env = make_env(suite)
    try:
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        spent = []
        for i in range(steps):
            action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
            begin = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            render(suite, env)
            spent.append(time.perf_counter() - begin)
            if terminated or truncated:
                env.reset(seed=i + 1)
    finally:
        env.close()
    return statistics.median(spent)


# -- helpers shared by the suites' experts ---------------------------------------------
def toward(ee: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The end-effector action that moves towards `target` (the env moves 5 cm per unit)."""
    return np.clip((np.asarray(target, dtype=np.float64) - ee) / 0.05, -1.0, 1.0)


# -- scripted experts (from the state; the suites' expert.py call these) -----------------
PUSH_HEIGHT = 0.02   # gripper height while pushing: the cube's centre


def push_action(obs: np.ndarray) -> np.ndarray:
    """Push the cube along the line to the target: get behind it from above, then push.

    Stateless: the phase follows from where the gripper is relative to the cube and the
    line cube -> target, so the expert recovers when the cube slips off the line.
    """
    ee, obj, goal = obs[STATE_LAYOUT["ee_position"]], obs[STATE_LAYOUT["object_position"]], \
        obs[STATE_LAYOUT["target_position"]]
    d = goal[:2] - obj[:2]
    dist = float(np.linalg.norm(d))
    u = d / max(dist, 1e-9)
    perp = np.array([-u[1], u[0]])
    rel = ee[:2] - obj[:2]
    along, lateral = float(rel @ u), float(rel @ perp)
    behind = obj[:2] - u * 0.045
    if along < -0.025 and abs(lateral) < 0.012 and ee[2] < 0.04:
        target = np.array([*(goal[:2] - u * 0.03), PUSH_HEIGHT])
        delta = target - ee
        step = min(0.03, dist + 0.005)
        norm = float(np.linalg.norm(delta[:2]))
        if norm > step:
            delta[:2] *= step / norm
        delta[:2] -= perp * lateral * 0.5
        return np.clip(delta / 0.05, -1.0, 1.0)
    if np.linalg.norm(ee[:2] - behind) > 0.015:
        if ee[2] < 0.07 and np.linalg.norm(ee[:2] - behind) > 0.02:
            return toward(ee, [ee[0], ee[1], 0.1])   # lift before crossing over the cube
        return toward(ee, [*behind, 0.1])
    return toward(ee, [*behind, PUSH_HEIGHT])


# Slide: the puck glides on a low-friction table, so the expert strikes it once.  The
# closed fingers are a box, so the puck leaves along the normal of the face or corner it
# meets, not along the strike: SLIDE_TABLE maps a strike (approach angle in degrees,
# lateral offset in metres) to the puck's outgoing (angle in degrees, speed in m/s) for a
# 0.5 m/s strike, measured once in this simulator (0 degrees = world +x).
SLIDE_OFFSETS = (-0.015, -0.0125, -0.01, -0.0075, -0.005, -0.0025, 0.0, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015)
SLIDE_TABLE = {
    -75: ((-55.7, 0.511), (-59.3, 0.528), (-62.9, 0.539), (-68.7, 0.079), (-73.9, 0.129), (-76.4, 0.137), (-81.0, 0.131), (-85.4, 0.110), (-86.7, 0.553), (-87.2, 0.553), (-87.4, 0.540), (-87.4, 0.539), (-87.4, 0.536)),
    -70: ((-48.4, 0.469), (-50.0, 0.490), (-53.5, 0.523), (-57.6, 0.536), (-65.8, 0.102), (-68.4, 0.129), (-73.3, 0.141), (-75.3, 0.123), (-79.0, 0.078), (-82.6, 0.543), (-86.7, 0.537), (-87.1, 0.528), (-87.2, 0.530)),
    -65: ((-38.3, 0.460), (-41.9, 0.481), (-44.2, 0.491), (-48.1, 0.511), (-53.1, 0.531), (-60.8, 0.090), (-66.5, 0.115), (-67.5, 0.112), (-71.0, 0.098), (-73.5, 0.547), (-79.1, 0.539), (-83.5, 0.523), (-87.1, 0.512)),
    -60: ((-28.6, 0.393), (-35.1, 0.453), (-36.3, 0.483), (-40.5, 0.497), (-44.4, 0.510), (-49.8, 0.533), (-52.9, 0.528), (-59.7, 0.028), (-67.1, 0.032), (-65.7, 0.543), (-70.1, 0.537), (-73.6, 0.521), (-80.0, 0.509)),
    -55: ((-18.1, 0.274), (-22.5, 0.384), (-29.0, 0.436), (-34.1, 0.479), (-36.7, 0.494), (-41.5, 0.519), (-44.1, 0.526), (-48.0, 0.532), (-51.1, 0.527), (-58.4, 0.533), (-61.8, 0.530), (-64.6, 0.526), (-70.0, 0.510)),
    -50: ((-9.9, 0.165), (-14.2, 0.260), (-19.9, 0.360), (-23.7, 0.426), (-29.3, 0.478), (-34.9, 0.507), (-36.3, 0.518), (-41.4, 0.525), (-44.4, 0.530), (-47.5, 0.529), (-52.7, 0.534), (-57.6, 0.535), (-62.3, 0.516)),
    -45: ((-2.4, 0.083), (-3.5, 0.149), (-9.7, 0.236), (-13.6, 0.321), (-19.5, 0.394), (-24.1, 0.455), (-29.7, 0.506), (-34.2, 0.528), (-36.0, 0.535), (-41.0, 0.536), (-43.5, 0.532), (-49.0, 0.526), (-53.7, 0.519)),
    -40: ((-0.8, 0.398), (-2.4, 0.088), (-2.6, 0.146), (-5.5, 0.211), (-11.4, 0.298), (-17.9, 0.374), (-19.9, 0.429), (-28.3, 0.477), (-28.5, 0.505), (-34.2, 0.527), (-36.2, 0.527), (-42.1, 0.530), (-46.1, 0.526)),
    -35: ((-0.6, 0.373), (-0.9, 0.428), (-2.1, 0.088), (-2.3, 0.141), (-2.2, 0.194), (-6.8, 0.260), (-11.4, 0.321), (-15.5, 0.380), (-22.1, 0.428), (-24.6, 0.456), (-29.1, 0.480), (-35.6, 0.490), (-38.7, 0.490)),
    -30: ((1.3, 0.372), (2.0, 0.389), (-0.5, 0.430), (-2.0, 0.078), (-2.6, 0.136), (-2.2, 0.166), (-4.5, 0.216), (-10.4, 0.278), (-12.7, 0.328), (-18.3, 0.371), (-21.2, 0.396), (-25.3, 0.416), (-29.7, 0.424)),
    -25: ((-1.5, 0.366), (0.2, 0.392), (2.1, 0.406), (0.0, 0.433), (-0.7, 0.467), (-2.1, 0.108), (-1.6, 0.143), (-2.3, 0.190), (-5.9, 0.232), (-10.7, 0.274), (-14.0, 0.308), (-17.2, 0.325), (-23.4, 0.344)),
    -20: ((-3.7, 0.368), (-1.3, 0.381), (0.4, 0.408), (2.2, 0.426), (1.7, 0.439), (-0.5, 0.470), (-2.3, 0.061), (-2.7, 0.117), (-2.5, 0.148), (-2.1, 0.179), (-7.3, 0.217), (-10.3, 0.243), (-14.8, 0.259)),
    -15: ((-3.5, 0.374), (-3.3, 0.388), (-1.4, 0.411), (-0.2, 0.416), (2.4, 0.425), (2.3, 0.452), (-0.1, 0.463), (-0.5, 0.478), (-2.1, 0.034), (-2.5, 0.108), (-2.5, 0.131), (-5.7, 0.156), (-8.2, 0.173)),
    -10: ((-1.2, 0.392), (-3.0, 0.397), (-3.2, 0.408), (-1.1, 0.424), (-0.4, 0.438), (2.3, 0.437), (2.5, 0.447), (0.0, 0.472), (-0.3, 0.475), (-0.3, 0.483), (-0.7, 0.483), (-0.8, 0.500), (-4.3, 0.083)),
    -5: ((-1.0, 0.411), (-1.1, 0.425), (-2.9, 0.423), (-3.0, 0.425), (-1.1, 0.434), (0.3, 0.446), (0.7, 0.452), (2.7, 0.448), (1.0, 0.464), (-0.1, 0.471), (-0.2, 0.477), (-0.6, 0.482), (-0.5, 0.477)),
    0: ((-0.7, 0.455), (-0.8, 0.454), (-0.8, 0.445), (-2.8, 0.441), (-2.9, 0.425), (-0.9, 0.447), (0.3, 0.449), (1.8, 0.446), (2.9, 0.440), (2.5, 0.437), (0.1, 0.452), (0.1, 0.452), (-0.2, 0.451)),
    5: ((0.6, 0.484), (0.6, 0.483), (-0.6, 0.482), (-0.6, 0.477), (-2.6, 0.458), (-2.8, 0.442), (1.2, 0.436), (0.7, 0.439), (2.5, 0.434), (3.0, 0.429), (2.9, 0.431), (0.3, 0.429), (0.3, 0.412)),
    10: ((3.1, 0.101), (1.4, 0.037), (0.8, 0.488), (-0.5, 0.479), (-0.6, 0.467), (-1.7, 0.462), (-2.6, 0.457), (-1.1, 0.458), (0.4, 0.446), (2.4, 0.417), (3.3, 0.415), (3.0, 0.399), (0.6, 0.398)),
    15: ((9.9, 0.181), (4.5, 0.163), (2.9, 0.139), (2.2, 0.119), (1.3, 0.072), (-0.4, 0.473), (-0.5, 0.454), (-2.5, 0.451), (-1.3, 0.439), (0.8, 0.437), (2.5, 0.415), (3.3, 0.399), (3.4, 0.381)),
    20: ((16.2, 0.265), (10.0, 0.245), (5.7, 0.218), (2.7, 0.186), (2.3, 0.157), (2.6, 0.125), (1.0, 0.088), (-0.3, 0.458), (-2.3, 0.440), (-2.1, 0.429), (0.7, 0.404), (0.5, 0.401), (3.8, 0.376)),
    25: ((22.2, 0.353), (18.8, 0.338), (15.5, 0.315), (9.8, 0.281), (3.6, 0.227), (2.5, 0.196), (2.3, 0.161), (1.0, 0.112), (0.0, 0.470), (-1.1, 0.428), (-2.1, 0.410), (0.7, 0.400), (2.0, 0.373)),
    30: ((28.3, 0.426), (24.8, 0.418), (24.1, 0.408), (18.1, 0.376), (10.9, 0.328), (6.9, 0.280), (5.4, 0.233), (2.4, 0.181), (2.5, 0.131), (1.1, 0.080), (-0.5, 0.428), (-2.2, 0.395), (0.9, 0.378)),
    35: ((38.0, 0.498), (33.9, 0.496), (31.9, 0.487), (26.4, 0.467), (21.0, 0.432), (17.3, 0.384), (10.1, 0.328), (5.6, 0.256), (2.6, 0.199), (2.4, 0.145), (1.5, 0.092), (0.0, 0.421), (-2.1, 0.370)),
    40: ((43.3, 0.532), (42.6, 0.537), (36.7, 0.537), (33.9, 0.528), (30.4, 0.518), (24.4, 0.479), (21.2, 0.438), (13.6, 0.361), (12.8, 0.311), (4.3, 0.215), (2.6, 0.154), (2.7, 0.097), (0.0, 0.397)),
    45: ((50.0, 0.526), (49.0, 0.531), (43.6, 0.539), (38.4, 0.544), (36.3, 0.542), (34.0, 0.528), (31.2, 0.503), (24.9, 0.469), (19.6, 0.409), (15.3, 0.333), (10.3, 0.246), (4.2, 0.158), (2.6, 0.091)),
    50: ((62.4, 0.522), (56.8, 0.527), (52.6, 0.530), (48.8, 0.529), (44.6, 0.535), (39.4, 0.534), (36.5, 0.521), (34.5, 0.512), (28.7, 0.484), (24.8, 0.433), (19.4, 0.352), (15.1, 0.275), (6.4, 0.169)),
    55: ((70.4, 0.512), (65.8, 0.520), (62.7, 0.528), (55.2, 0.537), (52.0, 0.534), (48.1, 0.541), (45.1, 0.527), (41.2, 0.523), (36.0, 0.496), (33.6, 0.489), (30.4, 0.446), (24.8, 0.385), (18.1, 0.275)),
    60: ((78.6, 0.512), (74.6, 0.523), (71.3, 0.533), (69.4, 0.027), (62.7, 0.095), (58.3, 0.092), (54.6, 0.044), (48.8, 0.515), (44.7, 0.513), (41.6, 0.505), (36.6, 0.478), (35.6, 0.450), (26.1, 0.391)),
    65: ((86.9, 0.504), (82.2, 0.526), (78.5, 0.530), (74.8, 0.034), (72.6, 0.115), (68.9, 0.136), (64.6, 0.131), (59.5, 0.110), (53.0, 0.531), (49.7, 0.515), (45.3, 0.493), (43.4, 0.482), (37.0, 0.467)),
    70: ((87.3, 0.531), (87.3, 0.528), (87.0, 0.528), (83.4, 0.542), (77.6, 0.097), (75.8, 0.150), (73.9, 0.149), (69.1, 0.145), (65.5, 0.124), (57.5, 0.034), (52.7, 0.516), (50.3, 0.499), (46.0, 0.480)),
    75: ((87.4, 0.536), (87.4, 0.539), (87.5, 0.540), (87.4, 0.545), (86.4, 0.550), (82.7, 0.098), (81.1, 0.133), (75.0, 0.146), (74.6, 0.139), (68.1, 0.107), (61.3, 0.537), (58.3, 0.527), (52.5, 0.492)),
}
SLIDE_HEIGHT = 0.015
SLIDE_DECELERATION = 0.3   # m/s^2, the puck's glide on the table (measured, rounded up)


def slide_plan(theta: float) -> tuple[float, float, float]:
    """(approach angle, lateral offset, puck speed per gripper speed) sending the puck along theta degrees."""
    if abs(theta) <= 3.0:
        return 0.0, 0.0, SLIDE_TABLE[0][SLIDE_OFFSETS.index(0.0)][1] / 0.5
    best = None
    for angle, row in SLIDE_TABLE.items():
        if angle * theta <= 0 or abs(angle) < 20:
            continue
        for i in range(len(SLIDE_OFFSETS) - 1):
            (a0, s0), (a1, s1) = row[i], row[i + 1]
            if min(s0, s1) < 0.2 or not min(a0, a1) <= theta <= max(a0, a1) or a0 == a1:
                continue
            f = (theta - a0) / (a1 - a0)
            offset = SLIDE_OFFSETS[i] + f * (SLIDE_OFFSETS[i + 1] - SLIDE_OFFSETS[i])
            if best is None or abs(offset) < best[0]:   # strike near the fingers' centre: least sensitive
                best = (abs(offset), float(angle), offset, (s0 + f * (s1 - s0)) / 0.5)
    return best[1:]


def slide_action(obs: np.ndarray) -> np.ndarray:
    """Line up behind the puck for the planned strike, strike it, lift away while it glides."""
    ee, obj, goal = obs[STATE_LAYOUT["ee_position"]], obs[STATE_LAYOUT["object_position"]], \
        obs[STATE_LAYOUT["target_position"]]
    if np.linalg.norm(obs[STATE_LAYOUT["object_velocity"]][:2]) > 0.05:
        return toward(ee, [ee[0], ee[1], 0.12])
    d = goal[:2] - obj[:2]
    dist = float(np.linalg.norm(d))
    angle, offset, ratio = slide_plan(float(np.degrees(np.arctan2(d[1], d[0]))))
    u = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    perp = np.array([-u[1], u[0]])
    start = obj[:2] - u * 0.10 + perp * offset
    rel = ee[:2] - start
    along, lateral = float(rel @ u), float(rel @ perp)
    # Fast enough to pass over the target still moving at 0.3 m/s: the episode succeeds then.
    speed = min(0.04, np.sqrt(0.09 + 2 * SLIDE_DECELERATION * dist) / ratio * 0.04)
    striking = ee[2] < 0.025 and 0.003 < along < 0.09 and abs(lateral) < 0.015
    ready = ee[2] < 0.025 and np.linalg.norm(rel) < 0.004 and np.linalg.norm(obs[STATE_LAYOUT["ee_velocity"]]) < 0.05
    if striking or ready:
        return toward(ee, [*(ee[:2] + u * speed - perp * lateral), SLIDE_HEIGHT])
    if np.linalg.norm(rel) < 0.02:
        return toward(ee, [*start, SLIDE_HEIGHT])
    if ee[2] < 0.07:
        return toward(ee, [ee[0], ee[1], 0.1])
    return toward(ee, [*start, 0.1])


# -- training (carverify train --suite panda-push) ------------------------------------------
def state_observation_env(env):
    """The policy's observation: the state vector (STATE_LAYOUT) as float32."""
    import gymnasium

    class StateObservation(gymnasium.ObservationWrapper):
        def __init__(self, inner):
            super().__init__(inner)
            self.observation_space = gymnasium.spaces.Box(-10.0, 10.0, (STATE_SIZE,), np.float32)

        def observation(self, observation):
            return state_vector(self.env).astype(np.float32)

    return StateObservation(env)


def ProgramReward(env, suite, source, report, *, bonus, progress_weight, gamma, **guard):
    """Code reward for Panda suites: env reward + bonus per sub-task (once per episode, in
    SUBTASKS order) + progress_weight * (gamma * progress(s') - progress(s)).

    The one guarded reward path (carverify.deploy.reward.CodeReward): the checks and
    progress run in the reward worker under a deadline, faults are caught, the runtime
    monitor compares the goal with info["is_success"] and each state with the oracle.
    The progress term is potential-based shaping (Ng et al., 1999): it leaves the optimal
    policy unchanged while paying every step that closes the gap.  bonus = progress_weight
    = 0 only reports completions (for evaluation).  No memo: Panda states are continuous.
    """
    from carverify.deploy.reward import CodeReward

    return CodeReward(env, suite, source, report, bonus=bonus, progress_weight=progress_weight, gamma=gamma,
                      **guard)


def train_config(suite, overrides: dict | None = None) -> dict:
    """The suite's [train] section over the SAC defaults, then `overrides` (sac merged key by key)."""
    from carverify.errors import UsageError

    section = dict(suite.config.get("train", {}))
    if section.get("algorithm", "sac") != "sac":
        raise UsageError(f"suite {suite.name}: [train] algorithm must be 'sac' for Panda suites")
    if suite.obs_kind != "state":
        raise UsageError(f"suite {suite.name} observes '{suite.obs_kind}': train a Panda state suite "
                         "(the policy learns from the state vector)")
    section.setdefault("total_steps", 20_000)
    section.setdefault("eval_every", 2_500)
    section.setdefault("eval_episodes", 20)
    section.setdefault("progress_weight", 10.0)
    section["sac"] = dict(section.get("sac", {}))
    section.update({k: v for k, v in (overrides or {}).items() if k != "sac"})
    section["sac"].update((overrides or {}).get("sac", {}))
    return section


def make_train_env(suite, reward: str, program: dict | None, settings: dict, *, bonus: float | None = None,
                   guard: dict | None = None):
    """A thunk: Panda env -> [ProgramReward] -> state-vector observation (TimeLimit 50 steps inside).

    `guard`: CodeReward's deadline, fault and monitor options (carverify.train.reward_options)."""
    def thunk():
        env = make_env(suite)
        if program is not None and (reward == "car" or bonus == 0.0):
            car = reward == "car" and bonus != 0.0
            env = ProgramReward(env, suite, program["source"], program["report"],
                                bonus=suite.bonus if car else 0.0,
                                progress_weight=float(settings["progress_weight"]) if car else 0.0,
                                gamma=float(settings["sac"].get("gamma", 0.95)), **(guard or {}))
        return state_observation_env(env)

    return thunk


class Evaluator:
    """Deterministic policy on fixed seeds; success = the environment's is_success."""

    def __init__(self, suite, program, settings, episodes: int, guard: dict | None = None):
        from carverify.train import evaluation_seeds

        self.env = make_train_env(suite, "sparse", program, settings, bonus=0.0, guard=guard)()
        self.seeds = evaluation_seeds(episodes)

    def __call__(self, model) -> tuple[float, dict[str, float]]:
        successes, completed = [], []
        for seed in self.seeds:
            obs, info = self.env.reset(seed=seed)
            done, success = False, False
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, _, terminated, truncated, info = self.env.step(action)
                success = success or bool(info.get("is_success"))
                done = terminated or truncated
            successes.append(success)
            completed.append(info.get("subtasks", {}))
        names = list(completed[0]) if completed else []
        return float(np.mean(successes)), {n: float(np.mean([c[n] for c in completed])) for n in names}

    def close(self) -> None:
        self.env.close()


def _sac_arguments(settings: dict) -> tuple[dict, list[int]]:
    sac = dict(settings["sac"])
    return sac, list(sac.pop("net_arch", [256, 256]))


def run_params(plan, reward: str) -> dict:
    """What MLflow records of a Panda run: enough to repeat it."""
    from carverify.suite import load_suite
    from carverify.train import guard_params, program_params

    suite = load_suite(plan.suite)
    sac, net_arch = _sac_arguments(plan.config)
    params = {"suite": suite.name, "env_id": suite.env_id, "reward": reward, "steps": plan.steps,
              "algorithm": "SAC", "eval_every": plan.eval_every, "eval_episodes": plan.eval_episodes,
              "observation": f"state vector ({STATE_SIZE} floats)", "policy": f"MlpPolicy {net_arch}",
              "bonus": suite.bonus, "progress_weight": plan.config["progress_weight"],
              **{f"sac.{k}": v for k, v in sac.items()}}
    return {**params, **program_params(plan.program, reward), **guard_params(plan, reward)}


def build_run(plan, suite, reward: str, seed: int):
    """SAC on one Panda env's state vector, and its evaluator: the Panda half of carverify.train.run_seed."""
    from stable_baselines3 import SAC
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from carverify.train import reward_options

    sac, net_arch = _sac_arguments(plan.config)
    guard = reward_options(plan, reward)
    venv = VecMonitor(DummyVecEnv([make_train_env(suite, reward, plan.program, plan.config, guard=guard)]))
    model = SAC("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, policy_kwargs={"net_arch": net_arch}, **sac)
    return model, venv, Evaluator(suite, plan.program, plan.config, plan.eval_episodes, guard=guard)
