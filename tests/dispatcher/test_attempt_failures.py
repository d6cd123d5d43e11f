"""The last guard of an attempt: a runner that raises still ends its job at once."""

from __future__ import annotations

import asyncio

from jobstream.dispatcher import EventNotifier
from jobstream.dispatcher.attempt import new_writer, run_attempt
from jobstream.events.documents.models import JobDocument
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Completed, Status, StatusChanged
from jobstream.runners import Runner

from .dispatcher_support import TOPICS, events_of


class _Broken(Runner):
    async def run(self, *args: object, **kwargs: object) -> Status:
        raise RuntimeError("secret-looking text that must not reach an event")


async def test_a_runner_that_raises_ends_the_job_failed(log: EmbeddedLog, runner: Runner) -> None:
    broken = _Broken(workspace_root=runner.workspace_root)
    notifier = EventNotifier(log, TOPICS.events, "job-x", new_writer())
    document = JobDocument.model_validate(
        {
            "name": "j",
            "stages": [{"name": "s", "steps": [{"action": "log", "message": "m"}]}],
            "sequence": [{"stage": "s"}],
        }
    )
    async with asyncio.timeout(10):
        status = await run_attempt(
            broken, notifier, document, worker="w", lease=30, cancel=asyncio.Event()
        )
    assert status is Status.FAILED
    events = await events_of(log, "job-x")
    ended = [e for e in events if isinstance(e, StatusChanged)]
    assert [e.status for e in ended] == [Status.FAILED]
    assert ended[0].reason == "the runner failed (RuntimeError)"
    assert isinstance(events[-1], Completed) and not events[-1].success
