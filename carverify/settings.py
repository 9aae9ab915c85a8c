"""`[tool.carverify]` in pyproject.toml: the gate's defaults for a repository; command-line flags override them.

    [tool.carverify]
    suite = "minigrid-doorkey-5x5"
    programs = ["rewards/**/*.py"]          # globs, relative to the pyproject.toml's folder
    stages = ["parse", "policy", "restricted"]
    cache = true                            # stored verdicts for unchanged programs
    track = false                           # log audits to MLflow
    tracking-uri = "http://127.0.0.1:5000"

    [tool.carverify.limits]                 # any field of sandbox.Limits
    call_seconds = 1.0

The nearest pyproject.toml at or above the working directory is read, as ruff and mypy do.
"""
from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from carverify.errors import UsageError

_KEYS = {"suite": str, "programs": list, "stages": list, "cache": bool, "track": bool,
         "tracking-uri": str, "limits": dict}


@dataclasses.dataclass(frozen=True)
class Settings:
    values: dict[str, Any]
    path: Path | None          # the pyproject.toml read, if any

    @property
    def root(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def get(self, name: str, default=None):
        return self.values.get(name, default)


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load(start: Path | None = None) -> Settings:
    path = find_pyproject(start)
    if path is None:
        return Settings({}, None)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    table = data.get("tool", {}).get("carverify")
    if table is None:
        return Settings({}, path)
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.carverify] must be a table")
    for name, value in table.items():
        if name not in _KEYS:
            raise UsageError(f"{path}: unknown key {name!r} in [tool.carverify] — known: {', '.join(_KEYS)}")
        if not isinstance(value, _KEYS[name]):
            raise UsageError(f"{path}: [tool.carverify] {name} must be a {_KEYS[name].__name__}, "
                             f"got {type(value).__name__} {value!r}")
        if _KEYS[name] is list and not all(isinstance(v, str) for v in value):
            raise UsageError(f"{path}: [tool.carverify] {name} must be a list of strings")
    _check_limits(path, table.get("limits", {}))
    return Settings(dict(table), path)


def _check_limits(path: Path, limits: dict[str, Any]) -> None:
    from sandbox import Limits

    fields = {f.name: f.type for f in dataclasses.fields(Limits)}
    for name, value in limits.items():
        if name not in fields:
            raise UsageError(f"{path}: unknown limit {name!r} in [tool.carverify.limits] — known: {', '.join(fields)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise UsageError(f"{path}: [tool.carverify.limits] {name} must be a positive number, got {value!r}")
        if fields[name] in (int, "int") and not isinstance(value, int):
            raise UsageError(f"{path}: [tool.carverify.limits] {name} must be a whole number, got {value!r}")


def expand_globs(settings: Settings, patterns: list[str]) -> list[str]:
    """The files the `programs` globs match, relative to the pyproject.toml's folder, sorted, each once."""
    found: dict[str, None] = {}
    for pattern in patterns:
        matches = sorted(p for p in settings.root.glob(pattern) if p.is_file())
        if not matches:
            raise UsageError(f"{settings.path}: programs pattern {pattern!r} matches no file")
        for match in matches:
            found[_shown(match)] = None
    return list(found)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
