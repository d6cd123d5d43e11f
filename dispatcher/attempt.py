"""One attempt at running one job: the runner, its notifier, its heartbeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from jobstream.dispatcher.notifier import EventNotifier, TeeNotifier
from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.validation import check_document
from jobstream.events.errors import DocumentError
from jobstream.events.models import Status
from jobstream.runners import Runner
from jobstream.runners.notifier import Notifier

__all__ = ["new_writer", "run_attempt"]

log = logging.getLogger(__name__)


def new_writer() -> str:
    return f"attempt-{uuid.uuid4().hex[:12]}"


async def run_attempt(
    runner: Runner,
    notifier: EventNotifier,
    document: JobDocument | dict,
    *,
    worker: str,
    lease: float,
    cancel: asyncio.Event,
    observer: Notifier | None = None,
) -> Status:
    """Run the job, heartbeating every third of the lease so a lost runner is noticed.

    `observer` sees every call the runner makes, after the log has it."""
    await notifier.heartbeat(lease, worker)
    beats = asyncio.create_task(_heartbeats(notifier, lease, worker))
    try:
        if isinstance(document, dict):
            parsed, problems = check_document(document)
            if parsed is None:
                return await _reject(notifier, DocumentError(problems).args[0])
            document = parsed
        reporter = TeeNotifier(notifier, observer) if observer else notifier
        try:
            return await runner.run(notifier.job_id, document, reporter, cancel=cancel)
        except Exception as exc:
            # The runner ends every failure it foresees, and masks its reasons; this is the
            # last guard, so the job ends now rather than when its lease runs out. Only the
            # error's kind goes into the event: its text may hold a secret unmasked.
            log.error("job %s: the runner failed: %s: %s", notifier.job_id, type(exc).__name__, exc)
            log.debug("the runner's traceback", exc_info=True)
            return await _reject(notifier, f"the runner failed ({type(exc).__name__})")
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats


async def _heartbeats(notifier: EventNotifier, lease: float, worker: str) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        await notifier.heartbeat(lease, worker)


async def _reject(notifier: EventNotifier, reason: str) -> Status:
    # A document that reached the log without passing validation (another Kafka client
    # wrote it), or a runner that failed: end the job with the reason instead of stopping
    # the worker. A status the runner had written already is not known here.
    await notifier.status_changed(Status.FAILED, Status.NEW, reason=reason)
    await notifier.completion(False, Status.FAILED, 0, 0)
    return Status.FAILED
