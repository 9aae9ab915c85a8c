"""Style: ``while`` loops with explicit counters and early ``break``.

The scan advances manual indices instead of using ``range``; each loop stops as soon
as the answer is known.  Only the first colour channel test decides whether the other
channels are read at all.
"""
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")

TILE = 8
KEY_MIN = 230
KEY_BLUE_MAX = 120


def count_key_pixels(obs):
    """Count saturated key-yellow pixels, stopping early after a handful."""
    count = 0
    y = 0
    while y < obs.shape[0]:
        x = 0
        while x < obs.shape[1]:
            if int(obs[y, x, 0]) >= KEY_MIN:
                if int(obs[y, x, 1]) >= KEY_MIN and int(obs[y, x, 2]) <= KEY_BLUE_MAX:
                    count += 1
            x += 1
        if count >= 4:
            break
        y += 1
    return count


def has_key(obs):
    """The key was picked up: fewer than four key-yellow pixels remain."""
    return count_key_pixels(obs) < 4


def door_open(obs):
    """A closed door has a yellow left border (rows 1-6 of its tile); an open one not."""
    ty = 0
    while ty < obs.shape[0] // TILE:
        tx = 0
        while tx < obs.shape[1] // TILE:
            x = tx * TILE
            yellow = 0
            dy = 1
            while dy < TILE - 1:
                y = ty * TILE + dy
                r = int(obs[y, x, 0])
                g = int(obs[y, x, 1])
                b = int(obs[y, x, 2])
                if r >= 150 and g >= 150 and b + 60 <= r:
                    yellow += 1
                dy += 1
            if yellow >= 4:
                return False
            tx += 1
        ty += 1
    return True


def at_goal(obs):
    """The agent's red triangle is drawn inside the green goal tile."""
    y = 0
    while y < obs.shape[0]:
        x = 0
        while x < obs.shape[1]:
            r = int(obs[y, x, 0])
            g = int(obs[y, x, 1])
            b = int(obs[y, x, 2])
            if r >= 200 and g <= 120 and b <= 120:
                # red pixel: is there goal green in the same tile?
                y0 = (y // TILE) * TILE
                x0 = (x // TILE) * TILE
                dy = 0
                while dy < TILE:
                    dx = 0
                    while dx < TILE:
                        gr = int(obs[y0 + dy, x0 + dx, 0])
                        gg = int(obs[y0 + dy, x0 + dx, 1])
                        gb = int(obs[y0 + dy, x0 + dx, 2])
                        if gg >= 200 and gr <= 120 and gb <= 120:
                            return True
                        dx += 1
                    dy += 1
                return False
            x += 1
        y += 1
    return False
