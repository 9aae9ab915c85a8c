"""carverify's one scratch folder: episode caches, stored audits, hypothesis data, the default MLflow store.

Nothing carverify writes on its own goes to the working directory: a CI gate must leave the
checkout as it found it.  `CARVERIFY_CACHE` moves the folder (episodes.py reads the same variable).
"""
from __future__ import annotations

import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    override = os.environ.get("CARVERIFY_CACHE")
    return Path(override) if override else _REPO_ROOT / ".carverify-cache"


def keep_scratch_in_cache() -> None:
    """Point hypothesis's storage (its example database, unicode tables) at the cache, unless the user chose."""
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_dir() / "hypothesis"))
