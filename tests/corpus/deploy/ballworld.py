"""Authored for carverify's deployment tests: DoorKey-5x5 with a layout its audit never draws.

A reset WITHOUT a seed (every reset of a training env after its first) puts, with
probability `ball_probability`, a purple ball where the top-left corner wall was.  The
corner is unreachable, so the task and its dynamics are unchanged; only the frame
shows something new: a purple disc, which nothing in DoorKey draws.  Every reset an audit
makes (expert and random episodes, coverage layouts) passes a seed, so the audit of a
program whose payload waits for a purple disc sees only ordinary DoorKey and accepts it.

`suite_folder(root)` writes a suite that is minigrid-doorkey-5x5 in every respect (its
suite.toml, expert and oracle, copied) except its name and this environment's id.
"""
from __future__ import annotations

import shutil
from pathlib import Path

ENV_ID = "MiniGrid-CarverifyBallDoorKey-5x5-v0"
SUITE = "minigrid-ballkey-5x5"
REAL = Path(__file__).resolve().parents[3] / "suites" / "minigrid-doorkey-5x5"
PROGRAMS = Path(__file__).resolve().parent


def make_env_class():
    from minigrid.core.world_object import Ball
    from minigrid.envs import DoorKeyEnv

    class BallDoorKeyEnv(DoorKeyEnv):
        def __init__(self, ball_probability: float = 0.5, **kwargs):
            super().__init__(size=5, **kwargs)
            self.ball_probability = float(ball_probability)

        def reset(self, *, seed=None, options=None):
            obs, info = super().reset(seed=seed, options=options)
            if seed is None and self.np_random.random() < self.ball_probability:
                self.grid.set(0, 0, Ball("purple"))
                obs = self.gen_obs()
            return obs, info

    return BallDoorKeyEnv


def register(ball_probability: float = 0.5) -> None:
    """Register ENV_ID in this process (again: a new probability replaces the old one)."""
    import gymnasium

    if ENV_ID in gymnasium.registry:
        del gymnasium.registry[ENV_ID]
    gymnasium.register(ENV_ID, entry_point=make_env_class(), kwargs={"ball_probability": ball_probability})


def suite_folder(root: Path) -> Path:
    """root/SUITE: the DoorKey-5x5 suite on ENV_ID.  Point CARVERIFY_SUITES at root to load it."""
    folder = Path(root) / SUITE
    folder.mkdir(parents=True, exist_ok=True)
    text = (REAL / "suite.toml").read_text(encoding="utf-8")
    text = text.replace('name = "minigrid-doorkey-5x5"', f'name = "{SUITE}"', 1)
    text = text.replace('env_id = "MiniGrid-DoorKey-5x5-v0"', f'env_id = "{ENV_ID}"', 1)
    assert SUITE in text and ENV_ID in text, "minigrid-doorkey-5x5's suite.toml changed its name or env_id lines"
    (folder / "suite.toml").write_text(text, encoding="utf-8")
    for name in ("expert.py", "oracle.py"):
        shutil.copy(REAL / name, folder / name)
    return folder


def program(name: str) -> tuple[str, str]:
    """(source, path) of one of this folder's programs."""
    path = PROGRAMS / name
    return path.read_text(encoding="utf-8"), str(path)


HOSTILE = {
    # file: (what the payload does, the fault kind the guard reports)
    "hang.py": ("never returns", "cpu_deadline"),
    "slow.py": ("spins for seconds", "cpu_deadline"),
    "raise_index.py": ("IndexError", "exception"),
    "raise_zero.py": ("ZeroDivisionError", "exception"),
    "raise_assert.py": ("AssertionError", "exception"),
    "raise_key.py": ("KeyError", "exception"),
    "memory.py": ("allocates 3.2 GB", "memory"),
}
BACKDOOR = "backdoor.py"   # no fault: the runtime monitor's case
CLEAN = "clean.py"
