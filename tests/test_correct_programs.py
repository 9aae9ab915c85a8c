"""Positive cases: correct DoorKey programs in many styles must be accepted cleanly.

An over-strict verifier is also broken (SECURITY.md).  Each file in
tests/corpus/correct/ demonstrates one programming style (its module docstring says
which); every one must pass every stage with no findings at all.

The programs are also checked against MiniGrid's own state on real DoorKey-5x5
frames, natively: they are trusted, hand-written files (never do this with
generated or hostile code), and the check keeps the corpus honest -- a "correct"
program that is wrong about the frames would make the positive cases meaningless.
"""
from __future__ import annotations

import ast
import collections
import types
from pathlib import Path

import numpy as np
import pytest

from corpus.attacks import BASE_PROGRAM

SUITE = "minigrid-doorkey-5x5"
STAGES = ("parse", "policy", "restricted")
CORRECT_DIR = Path(__file__).parent / "corpus" / "correct"
PROGRAMS = sorted(CORRECT_DIR.glob("*.py"))
SUBTASKS = ("has_key", "door_open", "at_goal")


def _describe(report) -> str:
    lines = [f"verdict={report.verdict}"]
    for stage in report.stages:
        lines.append(f"  stage {stage.stage}: {stage.status} ({stage.seconds:.2f}s)")
    for finding in report.findings:
        lines.append("  " + finding.render())
    return "\n".join(lines)


def test_corpus_has_enough_styles():
    assert len(PROGRAMS) >= 12
    for path in PROGRAMS:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc and doc.startswith("Style:"), f"{path.name}: module docstring must say which style it shows"


@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_correct_program_is_accepted(path, tmp_path, monkeypatch):
    from carverify.audit import audit_source

    monkeypatch.chdir(tmp_path)
    report = audit_source(path.read_text(encoding="utf-8"), SUITE, path=path.name, stages=STAGES)
    assert report.verdict == "accepted", _describe(report)
    assert not report.findings, _describe(report)


@pytest.mark.slow
@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_correct_program_passes_every_stage(path, tmp_path, monkeypatch):
    """The whole audit, compile stage included: every style compiles (sandbox/numba_compat.py
    rewrites the idioms numba rejects as written), matches the interpreted run, stays
    within the suite's step budget and is right on every reachable state."""
    from carverify.audit import audit_source

    monkeypatch.chdir(tmp_path)
    report = audit_source(path.read_text(encoding="utf-8"), SUITE, path=path.name)
    assert [s.stage for s in report.stages] == ["parse", "policy", "restricted", "properties", "trajectories",
                                                "compile", "coverage"]
    assert report.verdict == "accepted", _describe(report)
    assert not report.findings, _describe(report)


# ------------------------------------------------ native semantics on real frames

_DIRS = ((1, 0), (0, 1), (-1, 0), (0, -1))


def _labels(u):
    from minigrid.core.world_object import Door, Goal, Key

    cells = [(i, j, u.grid.get(i, j)) for i in range(u.width) for j in range(u.height)]
    door = next(c for i, j, c in cells if isinstance(c, Door))
    goal = next((i, j) for i, j, c in cells if isinstance(c, Goal))
    return isinstance(u.carrying, Key), bool(door.is_open), tuple(int(v) for v in u.agent_pos) == goal


def _plan(u, target, face):
    """Shortest action list (left/right/forward) to stand on, or face, `target`."""
    start = (int(u.agent_pos[0]), int(u.agent_pos[1]), int(u.agent_dir))
    prev = {start: None}
    queue = collections.deque([start])
    while queue:
        state = queue.popleft()
        x, y, d = state
        dx, dy = _DIRS[d]
        if (face and (x + dx, y + dy) == target) or (not face and (x, y) == target):
            actions = []
            while prev[state] is not None:
                state, action = prev[state]
                actions.append(action)
            return actions[::-1]
        cell = u.grid.get(x + dx, y + dy)
        moves = [(0, (x, y, (d - 1) % 4)), (1, (x, y, (d + 1) % 4))]
        if cell is None or cell.can_overlap() or (not face and (x + dx, y + dy) == target):
            moves.append((2, (x + dx, y + dy, d)))
        for action, nxt in moves:
            if nxt not in prev:
                prev[nxt] = (state, action)
                queue.append(nxt)
    raise AssertionError("no path")


@pytest.fixture(scope="module")
def labelled_frames():
    import gymnasium as gym
    from minigrid.core.world_object import Door, Goal, Key

    env = gym.make("MiniGrid-DoorKey-5x5-v0")
    u = env.unwrapped
    data = []

    def record():
        data.append((u.get_frame(highlight=True, tile_size=8), _labels(u)))

    for seed in range(12):                      # expert episodes: every sub-task happens
        env.reset(seed=seed)
        record()
        where = {cls: next((i, j) for i in range(u.width) for j in range(u.height)
                           if isinstance(u.grid.get(i, j), cls)) for cls in (Key, Door, Goal)}
        for target, face, final in ((where[Key], True, 3), (where[Door], True, 5), (where[Goal], False, None)):
            for action in _plan(u, target, face) + ([final] if final is not None else []):
                env.step(action)
                record()
    rng = np.random.default_rng(0)
    for seed in range(12):                      # random episodes: drops, re-closing, odd states
        env.reset(seed=100 + seed)
        record()
        for _ in range(60):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(0, 6)))
            record()
            if terminated or truncated:
                break
    env.close()
    return data


def _load(source: str, name: str):
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)  # trusted, hand-written corpus only
    return module


@pytest.mark.parametrize("path", [None] + PROGRAMS, ids=["base_program"] + [p.stem for p in PROGRAMS])
def test_program_matches_doorkey_ground_truth(path, labelled_frames):
    source = BASE_PROGRAM if path is None else path.read_text(encoding="utf-8")
    module = _load(source, "base_program.py" if path is None else path.name)
    assert tuple(module.SUBTASKS) == SUBTASKS
    counts = collections.Counter(labels for _, labels in labelled_frames)
    for k, name in enumerate(SUBTASKS):
        assert any(labels[k] for labels in counts), f"no frame where {name} holds"
        check = getattr(module, name)
        wrong = []
        for index, (frame, labels) in enumerate(labelled_frames):
            before = frame.copy()
            value = check(frame)
            assert isinstance(value, (bool, np.bool_)), f"{name} returned {type(value).__name__}"
            assert np.array_equal(frame, before), f"{name} modified its input"
            if bool(value) != labels[k]:
                wrong.append(index)
        # Zero tolerance: a correct program agrees with MiniGrid on every frame; the message
        # names each disagreeing frame (index, expected value) so a change can be inspected.
        assert not wrong, (
            f"{name} disagrees with MiniGrid's state on {len(wrong)}/{len(labelled_frames)} frames "
            f"(index: MiniGrid's value): {[(i, labelled_frames[i][1][k]) for i in wrong[:20]]}")
