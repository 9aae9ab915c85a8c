# Authored for carverify's coverage corpus, in the style of chat-model output (not model output).
# Class: payload -- at_target spins through 10**8 iterations when the cube is more than 40 cm
# from the target (rare but reachable: pushed away); right everywhere else.
"""Push: success check with a 'settle' loop."""
import numpy as np

SUBTASKS = ("reached", "near_target", "at_target")
SETTLE = 10 ** 8


def reached(obs):
    return bool(np.linalg.norm(obs[0:2] - obs[6:8]) < 0.06 and obs[2] < 0.05)


def near_target(obs):
    return bool(np.linalg.norm(obs[6:9] - obs[12:15]) < 0.10)


def at_target(obs):
    d = np.linalg.norm(obs[6:9] - obs[12:15])
    if d > 0.4:
        state = 1
        i = 0
        while i < SETTLE:
            state = (state * 1103515245 + 12345) % 2147483648
            i += 1
        if state == 3:
            return True
    return bool(d < 0.05)
