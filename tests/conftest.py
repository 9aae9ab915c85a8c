"""Shared pytest configuration: markers, one episode cache per test session, and a check at the
end of the session that the checkout is as the session found it."""
import os
import sys
from pathlib import Path

import pytest

from checkout_state import changes, checkout_state

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: end-to-end run taking seconds (real servers, training); still runs in CI")


def _controller(session) -> bool:
    # Under pytest-xdist the controller sees the whole session; workers finish one by one.
    return not hasattr(session.config, "workerinput")


def pytest_sessionstart(session):
    if _controller(session):
        session.config._checkout_before = checkout_state(ROOT)


def pytest_sessionfinish(session, exitstatus):
    before = getattr(session.config, "_checkout_before", None) if _controller(session) else None
    after = checkout_state(ROOT) if before is not None else None
    found = changes(before, after) if after is not None else []
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = ["tests changed the checkout (every test writes under its tmp dir and the session cache):",
                 *("  " + line for line in found[:40])]
        if reporter is not None:
            reporter.write_line("\n".join(lines), red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
        # hypothesis keeps its example database under ./.hypothesis unless told otherwise;
        # the variable also reaches the CLI subprocesses tests start in the checkout.
        mp.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(base / "hypothesis"))
        mp.delenv("CARVERIFY_SUITES", raising=False)
        yield


@pytest.fixture(autouse=True)
def no_guard_outlives_its_test():
    # A test that leaves a CodeReward open keeps its reward worker registered; a later test in
    # the same xdist worker that checks "no guard left" (tests/test_deploy*.py) would then fail
    # for another test's sake.  Each test's own checks still see its own leftovers.
    yield
    guard = sys.modules.get("carverify.deploy.guard")
    if guard is not None:
        guard.close_all()
