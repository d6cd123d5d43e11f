"""Fixtures: a live API server per test (auth off or on), on a fresh data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .api_support import LiveServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "data") as live:
        yield live


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "data", auth=True) as live:
        yield live
