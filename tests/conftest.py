"""Shared fixtures.

`event_log` runs a test once per log backend, as dramatiq's `result_backend` fixture does:
a backend is added by adding its name to LOG_BACKENDS and a branch to `_make_log`. Tests
that use it take fresh names from `topic` and `group`, so a backend whose broker outlives
one test (Kafka) gives every test a clean slate.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from jobstream.events.log.base import EventLog
from jobstream.events.log.embedded import EmbeddedLog

# The `kafka_broker` fixture: a tansu broker for the session, started on first use.
pytest_plugins = ["tests.kafka_broker"]

LOG_BACKENDS = ["embedded", "kafka"]


@pytest.fixture(autouse=True, scope="session")
def _keyring_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The default keyring lives in the user's configuration directory: the tests' own
    processes (and the subprocesses they start) keep theirs in a temporary one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
        yield


def _make_log(request: pytest.FixtureRequest, tmp_path: Path) -> EventLog:
    """The (unstarted) log for the backend in `request.param`; a backend that needs a server
    can get it from its own fixture with `request.getfixturevalue`."""
    if request.param == "embedded":
        return EmbeddedLog(tmp_path / "events.db", partitions=4)
    if request.param == "kafka":
        return request.getfixturevalue("kafka_broker").log(partitions=4)
    raise ValueError(f"unknown log backend {request.param!r}")


@pytest.fixture(params=LOG_BACKENDS)
async def event_log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    """A started EventLog of each backend in turn, closed after the test."""
    log = _make_log(request, tmp_path)
    await log.start()
    try:
        yield log
    finally:
        await log.close()


@pytest.fixture
def topic() -> str:
    return f"topic-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def group() -> str:
    return f"group-{uuid.uuid4().hex[:12]}"
