"""Slide, state vector: distances read straight from the documented layout; progress closes the gap."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
START_DISTANCE = 0.8    # the largest puck-target distance at reset (0.7 m ahead, 0.3 m aside), rounded up


def puck_target_distance(obs):
    return np.sqrt((obs[6] - obs[12]) ** 2 + (obs[7] - obs[13]) ** 2 + (obs[8] - obs[14]) ** 2)


def reached(obs):
    horizontal = np.sqrt((obs[0] - obs[6]) ** 2 + (obs[1] - obs[7]) ** 2)
    return bool(horizontal < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(puck_target_distance(obs) < 0.10)


def at_target(obs):
    return bool(puck_target_distance(obs) < 0.05)


def progress(obs):
    value = 1.0 - puck_target_distance(obs) / START_DISTANCE
    return float(min(max(value, 0.0), 1.0))
