"""`carverify new-suite NAME --env-id ID`: a commented suite folder to fill in."""
from __future__ import annotations

import pathlib

from carverify.errors import UsageError

SUITE_TOML = '''\
# A carverify suite: what `carverify audit PROGRAM --suite {folder}` checks programs against.
# Every key is described in the README's "Your own environment".
name = "{name}"                 # must equal the folder's name
adapter = "gymnasium"           # minigrid | panda | gymnasium | a .py file here | an import path
env_id = "{env_id}"
# env_package = "mypackage"     # imported first when importing it registers env_id
obs_kind = "{obs_kind}"               # rgb: the program sees env.render(); state: the env's own observation
description = """
Describe what the program sees, for the model that writes it: the frame's layout and colours
(or the vector's entries and units), the objects, and what finishing the task looks like.
"""
# The sub-tasks in completion order; the last one is the task's goal.
subtask_facts = ["goal"]
# expert = "demonstrations.npz" # recorded episodes instead of expert.py (see the README)
# oracle = "oracle.py"          # optional: facts(env) -> {{fact: bool}} read from the simulator

# [env_kwargs]                  # passed to gymnasium.make

[episodes]
expert_seeds = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
random_seeds = [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009]
# random_horizon = 50           # default: the longest expert episode

[thresholds]
min_expert_completion = 1.0

[budget]
# The compiled checks may cost at most this fraction of one env.step() plus the observation.
compiled_step_fraction = 0.5

[train]
algorithm = "ppo"               # ppo | sac
total_steps = 50000
# policy_keys = ["image"]       # a Dict observation: the keys the RL policy sees
'''

EXPERT = '''\
"""The scripted expert: the action that makes progress in this state.

The audit checks that a program's sub-tasks all complete, in order, in every expert episode.
No policy to write?  Record episodes instead and name them in suite.toml:
expert = "demonstrations.npz" (frames, actions, lengths, success, optional seeds).
"""


def act(env):
    raise NotImplementedError("write the expert for {env_id} in {path}, or use recorded demonstrations")
'''

MANIFEST = '''\
# Reference programs and the verdict `carverify audit` must reach on each, e.g.
# [[program]]
# file = "my_program.py"
# verdict = "accepted"
# codes = []
'''


def new_suite(name: str, env_id: str, *, where: str | pathlib.Path = ".", obs_kind: str = "rgb") -> pathlib.Path:
    """Write NAME/ under `where`: suite.toml, expert.py and programs/manifest.toml; refuse to overwrite."""
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"a suite name is a plain folder name, got {name!r}")
    if obs_kind not in ("rgb", "state"):
        raise UsageError(f"obs kind must be rgb or state, got {obs_kind!r}")
    folder = pathlib.Path(where) / name
    if folder.exists():
        raise UsageError(f"{folder} already exists: choose another name or folder")
    (folder / "programs").mkdir(parents=True)
    (folder / "suite.toml").write_text(SUITE_TOML.format(name=name, env_id=env_id, obs_kind=obs_kind,
                                                         folder=folder), encoding="utf-8")
    (folder / "expert.py").write_text(EXPERT.format(env_id=env_id, path=folder / "expert.py"), encoding="utf-8")
    (folder / "programs" / "manifest.toml").write_text(MANIFEST, encoding="utf-8")
    return folder
