"""Shared pytest configuration: markers, and one episode cache per test session."""
import os

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: end-to-end run taking seconds (real servers, training); still runs in CI")


@pytest.fixture(scope="session", autouse=True)
def episode_cache(tmp_path_factory):
    # Hermetic: every test simulates into (and reads from) this session's cache, never the repo's.
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Under `pytest -n`, one cache for the session's workers: every cache entry is
        # written to a temporary file and renamed, so two workers may build one at once.
        base = base.parent
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARVERIFY_CACHE", str(base / "carverify-cache"))
        mp.delenv("CARVERIFY_SUITES", raising=False)
        yield
