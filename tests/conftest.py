"""Shared pytest configuration: markers used across the test tree."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: end-to-end run taking seconds (real servers, training); still runs in CI")
