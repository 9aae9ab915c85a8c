"""Scripted Push expert: get behind the cube from above, push it along the line to the target.

Stateless: the phase follows from where the gripper is relative to the cube and the line
cube -> target, so the expert recovers when the cube slips off the line.  panda-push-pixels
uses this file too (its suite.toml names it as `expert`).
"""
import numpy as np

from carverify.envs.panda import STATE_LAYOUT, state_vector, toward

PUSH_HEIGHT = 0.02   # gripper height while pushing: the cube's centre


def push_action(obs: np.ndarray) -> np.ndarray:
    """Push the cube along the line to the target: get behind it from above, then push."""
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


def act(env):
    return push_action(state_vector(env))
