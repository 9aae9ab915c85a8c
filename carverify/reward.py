"""Dense rewards from an accepted reward program: a gymnasium wrapper paying each sub-task once per episode.

    env = CodeReward(suite.make_env(), suite, source, "program.py.report.json")

The wrapper refuses a program whose audit did not accept it, whose source changed since
the audit, or that was audited against another suite.  It carries only the source and
its hash, never compiled functions (numba dispatchers do not pickle), and compiles the
checks on first use in whatever process it lives in, so it works under SB3's
SubprocVecEnv as well as DummyVecEnv.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import gymnasium

from carverify.errors import UsageError

# Exact-state memo of check results: MiniGrid frames are a pure function of the grid,
# the agent's pose and what it carries, and the audited checks are pure functions of the
# frame, so a state seen before needs neither a render nor a check.  A DoorKey-8x8
# episode visits a few hundred states; the bound keeps a long run's memory flat.
MEMO_ENTRIES = 50_000


def sha256_of(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()


def read_report(report: Any) -> dict:
    """An AuditReport, its to_dict(), or the path of its JSON file, as a dict."""
    if hasattr(report, "to_dict"):
        return report.to_dict()
    if isinstance(report, dict):
        return report
    if isinstance(report, (str, Path)):
        try:
            return json.loads(Path(report).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read audit report {report}: {getattr(exc, 'strerror', None) or exc}") from exc
    raise UsageError(f"report must be an AuditReport, a dict or a JSON path, got {type(report).__name__}")


def accepted_sha256(source: str, report: Any, suite_name: str | None = None) -> str:
    """The program's sha256 if `report` accepts exactly this source (for this suite), else UsageError."""
    data = read_report(report)
    verdict = data.get("verdict")
    audited = str(data.get("program", {}).get("sha256", "")).lower()
    digest = sha256_of(source)
    if verdict != "accepted":
        raise UsageError(f"refusing a program its audit did not accept (verdict {verdict!r}): "
                         "fix it and run `carverify audit` until it is accepted")
    if digest != audited:
        raise UsageError(f"refusing a program that changed since its audit (sha256 {digest[:12]}…, "
                         f"audited {audited[:12] or 'nothing'}…): audit it again")
    if suite_name is not None and data.get("suite") != suite_name:
        raise UsageError(f"refusing a program audited against suite {data.get('suite')!r}, "
                         f"not {suite_name!r}: audit it with --suite {suite_name}")
    return digest


class CodeReward(gymnasium.Wrapper):
    """Adds `bonus` the first time each sub-task check holds in an episode, on top of the env reward.

    ordered=True (default) pays sub-task k only once k-1 has been paid, following SUBTASKS;
    several may be paid on one step.  ordered=False pays each the first time it holds.
    info["subtasks"]: name -> paid so far this episode; info["subtask_completed"]: names
    paid at this step; info["env_reward"]: the environment's own reward.  Frames after
    steps only: a check already true at reset is paid on the first step (the audit rejects
    such programs, CV502).
    """

    def __init__(self, env: gymnasium.Env, suite, source: str, report: Any, *,
                 bonus: float | None = None, ordered: bool = True, memo: bool = True):
        super().__init__(env)
        from carverify.suite import load_suite

        self.suite = load_suite(suite) if isinstance(suite, str) else suite
        self.source = source
        self.sha256 = accepted_sha256(source, report, self.suite.name)
        self.bonus = self.suite.bonus if bonus is None else float(bonus)
        self.ordered = bool(ordered)
        self.memo = bool(memo)
        self.subtasks: tuple[str, ...] = subtask_names(source)
        self._paid = [False] * len(self.subtasks)
        self._memo: dict = {}
        self._checks: tuple | None = None
        self.renders = 0  # frames rendered (a memo hit or a fully paid episode renders none)

    @property
    def checks(self) -> tuple:
        """The compiled checks in SUBTASKS order, built on first use in this process."""
        if self._checks is None:
            from carverify.compiled import compile_accepted  # re-checks parse, policy and hash

            self._checks = tuple(compile_accepted(self.source, self.sha256).values())
        return self._checks

    def compile(self) -> None:
        """Compile the checks now, on the current frame (numba takes seconds), not on the first step."""
        frame = self.suite.render(self.env)
        for check in self.checks:
            check(frame)

    def __getstate__(self):
        # Compiled dispatchers stay behind; the copy compiles its own on first use.
        state = dict(self.__dict__)
        state["_checks"], state["_memo"] = None, {}
        return state

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._paid = [False] * len(self.subtasks)
        info["subtasks"] = dict.fromkeys(self.subtasks, False)
        info["subtask_completed"] = []
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        completed = self._advance()
        info["env_reward"] = reward
        info["subtasks"] = dict(zip(self.subtasks, self._paid))
        info["subtask_completed"] = completed
        return obs, reward + self.bonus * len(completed), terminated, truncated, info

    def _advance(self) -> list[str]:
        if all(self._paid):
            return []  # nothing left to pay: no render, no check
        holds = self._holds()
        completed = []
        for i, name in enumerate(self.subtasks):
            if self._paid[i]:
                continue
            if holds[i]:
                self._paid[i] = True
                completed.append(name)
            elif self.ordered:
                break
        return completed

    def _holds(self) -> tuple[bool, ...]:
        key = self._state_key() if self.memo else None
        if key is not None:
            found = self._memo.get(key)
            if found is not None:
                return found
        frame = self.suite.render(self.env)
        self.renders += 1
        holds = tuple(check(frame) for check in self.checks)
        if key is not None:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = holds
        return holds

    def _state_key(self):
        """Everything suite.render(env) reads from a MiniGrid env; None for any other env (no memo)."""
        u = self.env.unwrapped
        grid = getattr(u, "grid", None)
        if grid is None or not hasattr(grid, "grid") or not hasattr(u, "agent_pos"):
            return None
        # minigrid's own tile cache keys a tile by obj.encode(); the highlight mask follows from
        # the grid, the pose and what is carried (gen_obs_grid).  A list of encodes is 7x cheaper
        # than grid.encode(), which fills a numpy array cell by cell.
        carrying = u.carrying.encode() if u.carrying is not None else None
        return (grid.width, tuple([o.encode() if o is not None else None for o in grid.grid]),
                tuple(u.agent_pos), u.agent_dir, carrying)


def reference_program(suite) -> tuple[str, str]:
    """(source, path) of the suite's reference program for training: [train] program in suite.toml."""
    name = suite.config.get("train", {}).get("program", "programs/tile_probes.py")
    path = suite.path / name
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise UsageError(f"cannot read the reference program {path}: {exc.strerror or exc}") from exc


def audited_report(source: str, suite, path: str = "program.py", *, config=None) -> dict:
    """The audit report of `source` (a dict), from the on-disk cache or by auditing it now.

    The cache key covers the source, the suite's episode files and the carverify version,
    so an edited program, suite or release is audited afresh.
    """
    from carverify import __version__
    from carverify.audit import audit_source
    from carverify.episodes import cache_key, cache_root
    from carverify.report.json_report import render_json

    folder = cache_root().parent / "audits" / suite.name
    target = folder / f"{sha256_of(source)[:16]}-{cache_key(suite)}-{__version__}.json"
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    report = audit_source(source, suite, path=path, config=config)
    text = render_json(report)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return json.loads(text)


def subtask_names(source: str) -> tuple[str, ...]:
    """SUBTASKS of a program, read by the sandbox's parser (no code runs)."""
    from carverify.compiled import checked_program

    return tuple(checked_program(source)[1].subtasks)

