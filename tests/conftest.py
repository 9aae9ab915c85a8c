"""Shared pytest configuration: markers, and one episode cache per test session."""
import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: end-to-end run taking seconds (real servers, training); still runs in CI")


@pytest.fixture(scope="session", autouse=True)
def episode_cache(tmp_path_factory):
    # Hermetic: every test simulates into (and reads from) this session's cache, never the repo's.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARVERIFY_CACHE", str(tmp_path_factory.getbasetemp() / "carverify-cache"))
        mp.delenv("CARVERIFY_SUITES", raising=False)
        yield
