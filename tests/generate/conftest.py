"""Fixtures for the generate tests: a fake OpenAI-compatible server and authored replies."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_openai import FakeOpenAI  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
AUTHORED = ROOT / "tools" / "authored"
FAST = ["parse", "policy", "restricted"]


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def authored():
    """Authored reply texts of a suite: [decompose, round1, round2, ...]."""
    def load(suite: str) -> list[str]:
        folder = AUTHORED / suite
        rounds = sorted(folder.glob("round*.md"), key=lambda p: int(p.stem[5:]))
        return [(folder / "decompose.md").read_text()] + [p.read_text() for p in rounds]
    return load
