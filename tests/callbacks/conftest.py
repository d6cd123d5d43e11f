"""Fixtures of the callback tests: a real embedded log and a real callback store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobstream.callbacks import CallbackStore
from jobstream.events.log.embedded import EmbeddedLog


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EmbeddedLog]:
    async with EmbeddedLog(tmp_path / "log.sqlite", poll_interval=0.005) as log:
        yield log


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CallbackStore]:
    async with CallbackStore(tmp_path / "callbacks.sqlite") as store:
        yield store
