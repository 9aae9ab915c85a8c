"""carverify's one scratch folder: episode caches, stored audits, hypothesis data, the default MLflow store.

Nothing carverify writes on its own goes to the working directory, the checkout or
site-packages: a CI gate must leave the checkout as it found it.  The folder is
`CARVERIFY_CACHE` if set, else the user's cache dir (platformdirs, e.g. ~/.cache/carverify).
"""
from __future__ import annotations

import os
from pathlib import Path



def cache_dir() -> Path:
    override = os.environ.get("CARVERIFY_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("carverify", appauthor=False))


def keep_scratch_in_cache() -> None:
    """Point hypothesis's storage (its example database, unicode tables) at the cache, unless the user chose."""
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(cache_dir() / "hypothesis"))
