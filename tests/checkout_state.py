"""What a test session must leave as it found it in the checkout: the git status of tracked and
untracked (not ignored) files, and the ignored places carverify and its tools write by default."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Ignored by git, so `git status` cannot see them; each is a default output location
# (episode cache and counterexamples, MLflow store and artifacts, hypothesis' database,
# training runs).
WATCHED = (".carverify-cache", "mlruns", "mlruns.db", "mlartifacts", ".hypothesis", "runs", "out")


def checkout_state(root: Path) -> dict | None:
    """A comparable picture of `root`, or None when it is not a git checkout (an installed copy)."""
    try:
        status = subprocess.run(["git", "status", "--porcelain=v1", "--untracked-files=all"], cwd=root,
                                capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if status.returncode != 0:
        return None
    files = {}
    for name in WATCHED:
        path = root / name
        if path.is_file():
            files[name] = _stamp(path)
        for dirpath, _, filenames in os.walk(path):
            for filename in filenames:
                full = Path(dirpath) / filename
                files[str(full.relative_to(root))] = _stamp(full)
    return {"git status": sorted(status.stdout.splitlines()), "files": files}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:  # removed while we walked
        return None
    return info.st_size, info.st_mtime_ns


def changes(before: dict, after: dict) -> list[str]:
    """One line per difference, naming the path."""
    out = []
    old, new = set(before["git status"]), set(after["git status"])
    out += [f"git status gained: {line}" for line in sorted(new - old)]
    out += [f"git status lost: {line}" for line in sorted(old - new)]
    for path in sorted(set(before["files"]) | set(after["files"])):
        was, now = before["files"].get(path), after["files"].get(path)
        if was != now:
            what = "created" if was is None else "removed" if now is None else "modified"
            out.append(f"{what}: {path}")
    return out
