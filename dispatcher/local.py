"""The local dispatcher: runs a job in the calling process (`jobstream run`).

The job still goes through the log: its JobSubmitted (marked `dispatch: local`, so workers
leave it alone) and every event of the run are appended as for a queued job, so the views,
callbacks and replay cannot tell the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass

from jobstream.dispatcher.attempt import new_writer, run_attempt
from jobstream.dispatcher.cancels import CancelWatcher
from jobstream.dispatcher.notifier import EventNotifier
from jobstream.dispatcher.submit import resolve_submission, submit
from jobstream.events.documents.models import JobDocument, Stage
from jobstream.events.log.base import EventLog, Record
from jobstream.events.models import JobSubmitted, Status
from jobstream.events.names import Topics
from jobstream.runners import Runner
from jobstream.runners.notifier import Notifier

__all__ = ["LocalDispatcher", "LocalRun"]


@dataclass(frozen=True)
class LocalRun:
    status: Status
    submitted: Record
    last: Record | None


class LocalDispatcher:
    def __init__(
        self, log: EventLog, topics: Topics, runner: Runner, *, lease: float = 30.0
    ) -> None:
        self.log = log
        self.topics = topics
        self.runner = runner
        self.lease = lease
        self.name = f"local-{os.uname().nodename}-{os.getpid()}"

    async def run(
        self,
        event: JobSubmitted,
        document: JobDocument,
        *,
        cancel: asyncio.Event | None = None,
        observer: Notifier | None = None,
    ) -> LocalRun:
        """Submit `event` and run it here; `cancel` (or a CancelRequested) stops it.
        `observer` sees the run as it happens (the terminal of `jobstream run`)."""
        watcher = CancelWatcher(self.log, self.topics.jobs)
        stop = asyncio.Event()
        watching = asyncio.create_task(watcher.run(stop, start="latest"))
        try:
            # Resolved before anything is appended: a stage that is not stored refuses the
            # job (UnresolvedStage), and the runner runs what the log holds.
            resolved = await resolve_submission(self.log, self.topics, event)
            if resolved is not event:
                event = resolved
                stages = [Stage.model_validate(s) for s in event.document["stages"]]
                document = document.model_copy(update={"stages": stages})
            await watcher.ready.wait()
            submitted = await submit(self.log, self.topics, event)
            requested = watcher.watch(event.job_id)
            if cancel is not None:
                forward = asyncio.create_task(_forward(cancel, requested))
            notifier = EventNotifier(self.log, self.topics.events, event.job_id, new_writer())
            status = await run_attempt(
                self.runner,
                notifier,
                document,
                worker=self.name,
                lease=self.lease,
                cancel=requested,
                observer=observer,
            )
            if cancel is not None:
                forward.cancel()
            return LocalRun(status, submitted, notifier.last)
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await watching


async def _forward(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()
