"""Suites: one folder per task with its suite.toml, expert, optional oracle and reference programs.

Where suites come from, first match wins:

1. a folder given by path (`--suite ./my-suite`, `load_suite("./my-suite")`);
2. each folder of the CARVERIFY_SUITES search path (os.pathsep-separated), in order: every
   sub-folder holding a suite.toml is a suite (a folder that itself holds one counts too);
3. the bundled suites: the repo's top-level suites/ in a checkout, carverify/_suites in a wheel.

A suite names its environment adapter (carverify/envs) in suite.toml: `adapter = "minigrid"`,
`"panda"` or `"gymnasium"`, a .py file in its folder, or an import path.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import sys
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from carverify.errors import UnknownSuiteError, UsageError

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent

# Precision/recall below 1.0 on purpose: the oracle reads simulator state while a program
# sees only pixels, and pixels do not settle every fact (a carried object is not drawn, so
# "carrying the box" and "the box was toggled away" look alike).  0.9 still rejects a check
# that is wrong on one frame in ten; every expert episode must complete outright.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "min_expert_completion": 1.0,
    "min_precision": 0.9,
    "min_recall": 0.9,
}
DEFAULT_BUDGET: dict[str, float] = {"compiled_step_fraction": 0.5}
# Adapters that ship with carverify, by the name a suite.toml gives.
BUNDLED_ADAPTERS = {"minigrid": "carverify.envs.minigrid", "panda": "carverify.envs.panda",
                    "gymnasium": "carverify.envs.generic"}
# Sub-folders that never shape an episode: reference programs (audit inputs) and recorded
# model exchanges.  Every other file of a suite folder is part of its cache keys.
NOT_EPISODE_INPUTS = ("programs", "transcripts", "__pycache__")


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
    kind: str = "minigrid"   # the adapter's name: "minigrid", "panda", "gymnasium" or a user adapter's

    @property
    def adapter(self):
        """The environment adapter (carverify.envs.EnvAdapter) this suite runs on."""
        return _adapter(self.config.get("adapter", self.kind), self.path)

    def make_env(self, render_mode: str | None = None):
        return self.adapter.make_env(self, render_mode=render_mode)

    def render(self, env) -> np.ndarray:
        """The observation a program sees (MiniGrid: identical to RGBImgObsWrapper(env, tile_size))."""
        return self.adapter.observe(self, env)

    @property
    def expert_path(self) -> pathlib.Path | None:
        return self._file("expert", ("expert.py", "demonstrations.npz"))

    @property
    def oracle_path(self) -> pathlib.Path | None:
        return self._file("oracle", ("oracle.py",))

    @property
    def has_oracle(self) -> bool:
        return self.oracle_path is not None

    def _file(self, key: str, defaults: tuple[str, ...]) -> pathlib.Path | None:
        named = self.config.get(key)
        if named is not None:
            return (self.path / named).resolve() if named else None   # oracle = "" : explicitly none
        return next((self.path / d for d in defaults if (self.path / d).is_file()), None)

    def expert(self) -> Callable:
        """The scripted expert's act(env) (a .py expert); demonstrations: see expert_demonstrations()."""
        path = self.expert_path
        if path is None:
            raise UsageError(f"suite {self.name}: no expert (add expert.py with act(env), or demonstrations.npz)")
        if path.suffix == ".npz":
            raise UsageError(f"suite {self.name}: the expert is recorded demonstrations ({path.name}), not a policy")
        return _load_module(path, f"{self.name}.expert").act

    @property
    def demonstrations(self) -> bool:
        path = self.expert_path
        return path is not None and path.suffix == ".npz"

    def oracle(self) -> Callable | None:
        """The oracle's facts(env), or None when the suite has none."""
        path = self.oracle_path
        if path is None:
            return None
        return _load_module(path, f"{self.name}.oracle").facts

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
        """The files whose content defines this suite's episodes and coverage states (for cache keys):
        every file of the folder but programs/ and transcripts/, the expert, oracle and adapter
        files it names elsewhere, and the adapter's own code."""
        own = [p for p in sorted(self.path.rglob("*")) if p.is_file() and not p.name.startswith(".")
               and not set(p.relative_to(self.path).parts[:-1]) & set(NOT_EPISODE_INPUTS)
               and p.suffix != ".pyc"]
        named = [p for p in (self.expert_path, self.oracle_path) if p is not None]
        return tuple(dict.fromkeys([*own, *named, *self.adapter.code_files()]))


def _load_module(path: pathlib.Path, label: str) -> Any:
    # Loaded by file path, never as a package, so carverify never depends on suites/.
    if not path.is_file():
        raise UsageError(f"suite file missing: {path}")
    mod_name = "carverify_suite_" + label.replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[mod_name]
        raise UsageError(f"cannot load {path}: {type(exc).__name__}: {exc}") from exc
    return module


_ADAPTERS: dict[tuple[str, str], Any] = {}   # (spec, folder and file stamp) -> adapter


def _adapter(spec: str, folder: pathlib.Path):
    """The adapter a suite.toml names: a bundled name, a .py file in the suite folder, or an import path."""
    from carverify.envs.adapter import module_adapter

    spec = str(spec)
    # A file adapter is keyed by its content's stamp too: an edited adapter is loaded afresh.
    stamp = (folder / spec).stat() if spec.endswith(".py") and (folder / spec).is_file() else None
    key = (spec, f"{folder}:{stamp.st_mtime_ns}:{stamp.st_size}" if stamp else "")
    found = _ADAPTERS.get(key)
    if found is not None:
        return found
    if spec.endswith(".py"):
        path = (folder / spec).resolve()
        module = _load_module(path, f"{folder.name}.adapter.{path.stem}")
    else:
        target = BUNDLED_ADAPTERS.get(spec, spec)
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise UsageError(f"{folder / 'suite.toml'}: adapter {spec!r} is not one of "
                             f"{', '.join(BUNDLED_ADAPTERS)}, a .py file in the suite folder, "
                             f"or an importable module ({exc})") from exc
    adapter = _ADAPTERS[key] = module_adapter(module, spec)
    return adapter


def bundled_root() -> pathlib.Path:
    """The bundled suites: the repo's suites/ in a checkout, else the copy shipped in the wheel."""
    checkout = REPO_ROOT / "suites"
    return checkout if checkout.is_dir() and (REPO_ROOT / "pyproject.toml").is_file() else PACKAGE_ROOT / "_suites"


def search_path() -> list[pathlib.Path]:
    """CARVERIFY_SUITES' folders (os.pathsep-separated, in order), then the bundled suites."""
    extra = [pathlib.Path(p).expanduser() for p in os.environ.get("CARVERIFY_SUITES", "").split(os.pathsep) if p]
    return [*extra, bundled_root()]


def suites_root() -> pathlib.Path:
    """The first folder searched for suites (CARVERIFY_SUITES' first entry, else the bundled suites)."""
    return search_path()[0]


def _from_folder(folder: pathlib.Path) -> Suite:
    toml_path = folder / "suite.toml"
    try:
        config = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {toml_path}: {exc}") from exc
    missing = [k for k in ("env_id", "obs_kind", "description", "subtask_facts") if k not in config]
    if missing:
        raise UsageError(f"{toml_path}: missing required field(s) {', '.join(missing)}")
    facts = tuple(config.get("facts", config["subtask_facts"]))
    order = [facts.index(f) for f in config["subtask_facts"] if f in facts]
    if len(order) != len(config["subtask_facts"]) or order != sorted(order):
        raise UsageError(f"{toml_path}: facts must list every one of subtask_facts, in the same order")
    name = config.get("name", folder.name)
    if name != folder.name:
        raise UsageError(f"{toml_path}: name {name!r} differs from its folder {folder.name!r}")
    # `kind` is the older spelling of `adapter`; without either, MiniGrid ids get MiniGrid's.
    adapter = str(config.get("adapter", config.get("kind", "minigrid" if str(config["env_id"]).startswith("MiniGrid")
                                                   else "gymnasium")))
    config = {**config, "adapter": adapter}
    suite = Suite(
        name=name,
        path=folder,
        env_id=config["env_id"],
        obs_kind=config["obs_kind"],
        description=" ".join(config["description"].split()),
        tile_size=int(config.get("tile_size", 8)),
        config=config,
        subtask_facts=tuple(config["subtask_facts"]),
        facts=facts,
        kind=pathlib.Path(adapter).stem if adapter.endswith(".py") else adapter,
    )
    for key in ("expert", "oracle"):
        path = getattr(suite, f"{key}_path")
        if config.get(key) and (path is None or not path.is_file()):
            raise UsageError(f"{toml_path}: {key} file {config[key]!r} not found")
    suite.adapter  # noqa: B018  (a bad adapter is a usage error at load time, not mid-audit)
    return suite


def _is_suite(folder: pathlib.Path) -> bool:
    return (folder / "suite.toml").is_file()


def _suite_folders() -> dict[str, pathlib.Path]:
    """Suite name -> folder over the search path; an earlier folder wins a name."""
    found: dict[str, pathlib.Path] = {}
    for root in search_path():
        if not root.is_dir():
            continue
        candidates = [root] if _is_suite(root) else sorted(p for p in root.iterdir() if _is_suite(p))
        for folder in candidates:
            found.setdefault(folder.name, folder)
    return dict(sorted(found.items()))


def list_suites() -> list[Suite]:
    return [_from_folder(p) for p in _suite_folders().values()]


def load_suite(name: str | os.PathLike) -> Suite:
    """A suite by name (CARVERIFY_SUITES, then the bundled suites) or by the path of its folder."""
    text = os.fspath(name)
    as_path = pathlib.Path(text).expanduser()
    if os.sep in text or (os.altsep and os.altsep in text) or text.startswith(".") or as_path.is_absolute():
        if not _is_suite(as_path):
            raise UnknownSuiteError(f"no suite at {text}: the folder must hold a suite.toml")
        return _from_folder(as_path.resolve())
    folders = _suite_folders()
    if text not in folders:
        known = ", ".join(folders) or "(none)"
        raise UnknownSuiteError(f"unknown suite '{text}' — known: {known}")
    return _from_folder(folders[text])


def suite_ref(suite: Suite) -> str:
    """What load_suite() takes to find this suite again (in a worker process): its name when the
    search path finds this very folder under it, else the folder's path."""
    found = _suite_folders().get(suite.name)
    return suite.name if found is not None and found.resolve() == suite.path.resolve() else str(suite.path)
