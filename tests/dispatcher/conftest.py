"""Fixtures of the dispatcher tests: everything in this process, on a real embedded log in
a temp file, with a real runner running real shell commands."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.runners import Runner

from .dispatcher_support import Views


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[EmbeddedLog]:
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=4, poll_interval=0.005) as log:
        yield log


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(Fernet.generate_key())


@pytest.fixture
def runner(tmp_path: Path, box: SecretBox) -> Runner:
    return Runner(workspace_root=tmp_path / "workspaces", secret_box=box, kill_grace=0.3)


@pytest.fixture
def views(log: EmbeddedLog, tmp_path: Path) -> Iterator[Views]:
    views = Views(log, tmp_path / "views.duckdb")
    yield views
    views.close()
