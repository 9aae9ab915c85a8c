"""Suites: one folder per environment with its suite.toml, scripted expert and oracle."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from carverify.errors import UnknownSuiteError, UsageError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

# Precision/recall below 1.0 on purpose: the oracle reads simulator state while a program
# sees only pixels, and pixels do not settle every fact (a carried object is not drawn, so
# "carrying the box" and "the box was toggled away" look alike).  0.9 still rejects a check
# that is wrong on one frame in ten; every expert episode must complete outright.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "min_expert_completion": 1.0,
    "min_precision": 0.9,
    "min_recall": 0.9,
}
DEFAULT_BUDGET: dict[str, float] = {"compiled_step_fraction": 0.25}
KINDS = ("minigrid", "panda")


@dataclass(frozen=True)
class Suite:
    """A task environment plus everything needed to audit reward programs against it."""

    name: str
    path: pathlib.Path
    env_id: str
    obs_kind: str
    description: str
    tile_size: int
    config: dict = field(compare=False, hash=False, repr=False)
    subtask_facts: tuple[str, ...] = ()
    # Every oracle fact a decomposition may name, in completion order (a superset of
    # subtask_facts, e.g. near_key, door_unlocked); sub-tasks are assigned to these one to one.
    facts: tuple[str, ...] = ()
    kind: str = "minigrid"   # which simulator: "minigrid", or "panda" (carverify/panda.py)

    def make_env(self, render_mode: str | None = None):
        if self.kind == "panda":
            from carverify import panda
            return panda.make_env(self)
        import gymnasium
        import minigrid  # noqa: F401  (registers the MiniGrid-* ids)

        return gymnasium.make(self.env_id, render_mode=render_mode)

    def render(self, env) -> np.ndarray:
        """The observation a program sees: for MiniGrid, identical to RGBImgObsWrapper(env, tile_size)."""
        if self.kind == "panda":
            from carverify import panda
            return panda.render(self, env)
        return env.unwrapped.get_frame(highlight=True, tile_size=self.tile_size)

    def expert(self) -> Callable:
        return _load_module(self.path / "expert.py", f"{self.name}.expert").act

    def oracle(self) -> Callable:
        return _load_module(self.path / "oracle.py", f"{self.name}.oracle").facts

    @property
    def thresholds(self) -> dict[str, float]:
        return {**DEFAULT_THRESHOLDS, **self.config.get("thresholds", {})}

    @property
    def budget(self) -> dict[str, float]:
        return {**DEFAULT_BUDGET, **self.config.get("budget", {})}

    @property
    def bonus(self) -> float:
        return float(self.config.get("bonus", 1.0))

    @property
    def source_files(self) -> tuple[pathlib.Path, ...]:
        """The files whose content defines this suite's episodes (for cache keys)."""
        return tuple(self.path / f for f in ("suite.toml", "expert.py", "oracle.py"))


def _load_module(path: pathlib.Path, label: str) -> Any:
    # Loaded by file path, never as a package, so carverify never depends on suites/.
    if not path.is_file():
        raise UsageError(f"suite file missing: {path}")
    mod_name = "carverify_suite_" + label.replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module


def suites_root() -> pathlib.Path:
    override = os.environ.get("CARVERIFY_SUITES")
    return pathlib.Path(override) if override else REPO_ROOT / "suites"


def _from_folder(folder: pathlib.Path) -> Suite:
    toml_path = folder / "suite.toml"
    try:
        config = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {toml_path}: {exc}") from exc
    missing = [k for k in ("env_id", "obs_kind", "description", "subtask_facts") if k not in config]
    if missing:
        raise UsageError(f"{toml_path}: missing required field(s) {', '.join(missing)}")
    if config.get("kind", "minigrid") not in KINDS:
        raise UsageError(f"{toml_path}: kind {config['kind']!r} is not one of {', '.join(KINDS)}")
    facts = tuple(config.get("facts", config["subtask_facts"]))
    order = [facts.index(f) for f in config["subtask_facts"] if f in facts]
    if len(order) != len(config["subtask_facts"]) or order != sorted(order):
        raise UsageError(f"{toml_path}: facts must list every one of subtask_facts, in the same order")
    name = config.get("name", folder.name)
    if name != folder.name:
        raise UsageError(f"{toml_path}: name {name!r} differs from its folder {folder.name!r}")
    return Suite(
        name=name,
        path=folder,
        env_id=config["env_id"],
        obs_kind=config["obs_kind"],
        description=" ".join(config["description"].split()),
        tile_size=int(config.get("tile_size", 8)),
        config=config,
        subtask_facts=tuple(config["subtask_facts"]),
        facts=facts,
        kind=str(config.get("kind", "minigrid")),
    )


def _suite_folders() -> list[pathlib.Path]:
    root = suites_root()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "suite.toml").is_file())


def list_suites() -> list[Suite]:
    return [_from_folder(p) for p in _suite_folders()]


def load_suite(name: str) -> Suite:
    folders = {p.name: p for p in _suite_folders()}
    if name not in folders:
        known = ", ".join(sorted(folders)) or "(none)"
        raise UnknownSuiteError(f"unknown suite '{name}' — known: {known}")
    return _from_folder(folders[name])
