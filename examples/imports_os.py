"""Authored example: reads the environment through os, a classic exfiltration attempt."""
import numpy as np
import os

SUBTASKS = ("has_key", "door_open", "at_goal")


def has_key(obs):
    return "KEY" in os.environ


def door_open(obs):
    return bool((obs[4::8, 7::8, 1] > 150).any())


def at_goal(obs):
    return bool((obs[7::8, 7::8, 1] > 200).any())
