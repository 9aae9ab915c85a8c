"""The panda-gym simulator (PandaPush-v3, PandaSlide-v3 on PyBullet, headless): the env, what a program sees.

carverify/envs/panda.py is the adapter built on it.  What a reward program sees (suite.toml `obs_kind`):

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
import pathlib
import sys

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


# -- helpers shared by the suites' experts ---------------------------------------------
def toward(ee: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The end-effector action that moves towards `target` (the env moves 5 cm per unit)."""
    return np.clip((np.asarray(target, dtype=np.float64) - ee) / 0.05, -1.0, 1.0)


# -- training: the policy learns from the state vector ------------------------------
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
