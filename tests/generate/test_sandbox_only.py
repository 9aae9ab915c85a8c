"""A generated program never runs in carverify's own process: only audit_source runs it, in the sandbox."""
import sys

import pytest

from carverify.generate import ScriptedProvider, generate

STAGES = ["parse", "policy", "restricted", "properties"]
DECOMPOSE = '{"task": "t", "subtasks": [{"name": "a", "description": "d"}]}'
_WATCH: dict = {"marker": None, "seen": []}


def _consts(code):
    for const in code.co_consts:
        yield const
        if hasattr(const, "co_consts"):
            yield from _consts(const)


def _hook(event, args):
    # Audit hooks cannot be removed: this one only records while a test sets a marker.
    marker = _WATCH["marker"]
    if marker is None or event != "exec" or not hasattr(args[0], "co_filename"):
        return
    code = args[0]
    if code.co_filename == "program.py" or any(isinstance(c, str) and marker in c for c in _consts(code)):
        _WATCH["seen"].append(code.co_filename)


sys.addaudithook(_hook)


@pytest.fixture
def watch():
    _WATCH["seen"] = []
    yield _WATCH
    _WATCH["marker"] = None


def run(replies, rounds=1):
    return generate("minigrid-doorkey-5x5", ScriptedProvider([DECOMPOSE, *replies]), model="m", rounds=rounds,
                    stages=STAGES)


def test_hostile_program_writes_no_marker_and_is_rejected(tmp_path, monkeypatch, watch):
    monkeypatch.chdir(tmp_path)
    markers = [tmp_path / f"marker-{i}" for i in range(4)]
    watch["marker"] = "marker-"
    hostile = f'''```python
import numpy as np
import os

SUBTASKS = ("a",)
open("{markers[0]}", "w").write("module level")
os.system("touch {markers[1]}")


def a(obs):
    open("{markers[2]}", "w").write("at call time")
    __import__("os").system("touch {markers[3]}")
    return True
```'''
    gen = run([hostile])
    (round_,) = gen.rounds
    assert round_.verdict == "rejected"
    codes = {f.code for f in round_.findings}
    assert "CV204" in codes and all(c.startswith("CV2") for c in codes)  # stopped by the policy
    assert [m for m in markers if m.exists()] == [] and list(tmp_path.iterdir()) == []
    assert watch["seen"] == []


def test_valid_program_runs_only_in_the_sandbox_child(watch):
    watch["marker"] = "carverify-parent-must-not-exec-this"
    program = '''```python
import numpy as np

SUBTASKS = ("has_key", "door_open", "at_goal")
TAG = "carverify-parent-must-not-exec-this"


def has_key(obs):
    return bool(obs[4::8, 4::8, 2].min() > 250) and len(TAG) > 0


def door_open(obs):
    return bool(obs[0, 0, 0] == 7)


def at_goal(obs):
    return bool(obs[0, 0, 1] == 7)
```'''
    gen = run([program])
    (round_,) = gen.rounds
    # The restricted and properties stages did run it (in the child) and judged it.
    assert [s.status for s in round_.report.stages] == ["passed", "passed", "passed", "passed"]
    assert watch["seen"] == []


def test_the_watch_does_see_an_exec_in_this_process(watch):
    # Proves the detector: had the loop exec'd the program here, the tests above would fail.
    watch["marker"] = "carverify-detector-self-test"
    exec(compile('TAG = "carverify-detector-self-test"', "elsewhere.py", "exec"), {})
    assert watch["seen"] == ["elsewhere.py"]
