"""Known bad: no check ever fires, so no expert episode completes a sub-task."""
import numpy as np

SUBTASKS = ("has_key", "door_open")


def has_key(obs):
    return False


def door_open(obs):
    return False
