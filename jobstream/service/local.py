"""LocalJobs: the jobs service on the event log and the DuckDB views of this process.

The HTTP API answers through it (in the process that projects), and so does the command
line when no server runs (it then opens the views itself). Writes are events appended to
the log; reads are queries of the views, run by their owner on the views' own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import duckdb
import orjson

from jobstream.dispatcher.submit import (
    read_submission,
    request_cancel,
    retry_submission,
    submission,
    submit,
)
from jobstream.events.documents.secrets import SecretBox, redact_document
from jobstream.events.documents.validation import ValidatedDocument
from jobstream.events.errors import JobNotEnded, LogError
from jobstream.events.log.base import EventLog, Record, TopicPartition
from jobstream.events.models import DEFAULT_ORGANIZATION, JobSubmitted, Status
from jobstream.events.names import Topics
from jobstream.projections import queries
from jobstream.projections.records import JobRecord, JobStageRow, JobStepRow, LogLineRow, Stats
from jobstream.service.base import (
    CancelOutcome,
    DeadLetterEntry,
    JobList,
    JobsService,
    JobSteps,
    LogPage,
    RetryOutcome,
    StageRun,
    StepRun,
)
from jobstream.service.paging import Cursor, next_cursor

__all__ = ["FOLLOW_PAGE", "LocalJobs", "Views"]

T = TypeVar("T")

FOLLOW_PAGE = 10_000
"""The most lines a follower reads per wake-up. A query waits in the views' thread behind
the batch being applied, so a follower gets one page per batch: when the views apply
bigger batches to keep up with a fast log, the follower has to read as much per page."""

# How long a follower waits for the views' next batch before it looks anyway: a batch
# wakes it at once, so this only bounds the wait should a wake-up be missed.
_LOOK_AGAIN = 1.0


class Views(Protocol):
    """What LocalJobs needs of the projection host holding the views."""

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the views' connection, in the thread that owns it."""
        ...

    async def wait_for(
        self, target: Record | tuple[TopicPartition, int], timeout: float = 10.0
    ) -> None:
        """Return once the record (or the one at (partition, offset)) is applied;
        TimeoutError otherwise."""
        ...

    def next_apply(self) -> asyncio.Event:
        """An event set once the views apply their next batch."""
        ...


class LocalJobs(JobsService):
    """The service over `log` (writes) and `views` (reads).

    `secrets` gives the installation's key; it is asked for only when a document is
    submitted, so reading the views never creates one. `visible_within`: how long `submit`
    waits for the views to show the new job (the API: so `submit` then `show` works; a
    command line that does not project into the views waits for nothing). Once `stop` is
    set, open follows end where they are, so they do not hold a shutdown up.
    `callbacks`: the callbacks' store, whose dead letters `dead_letters` lists too."""

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        views: Views,
        secrets: Callable[[], SecretBox],
        *,
        visible_within: float = 0.0,
        stop: asyncio.Event | None = None,
        organization: str = DEFAULT_ORGANIZATION,
        callbacks: Path | None = None,
    ) -> None:
        self.event_log = log
        self.callbacks = callbacks
        self.topics = topics
        self.views = views
        self._secrets = secrets
        self.visible_within = visible_within
        self.stop = stop or asyncio.Event()
        self.organization = organization
        """The installation's organisation, for documents that name none."""

    async def submit(
        self,
        validated: ValidatedDocument,
        labels: Mapping[str, str] | None = None,
        *,
        organization: str | None = None,
        submitter: str = "anonymous",
    ) -> str:
        """See JobsService.submit; `submitter` names who asks (the API: the token's name)."""
        event = submission(
            validated.document,
            self._secrets(),
            labels=dict(labels or {}),
            submitter=submitter,
            organization=organization or validated.document.organization or self.organization,
        )
        await self._queue(event)
        return event.job_id

    async def list(
        self,
        *,
        status: Sequence[Status] | None = None,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        labels: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
    ) -> JobList:
        position = Cursor.decode(cursor) if cursor is not None else None
        filters = {"status": status or None, "name": name, "since": since, "labels": labels}
        return await self.views.query(_page_of_jobs, filters, until, limit, offset, position)

    async def get(self, job: str) -> JobRecord:
        return await self.views.query(_find, job)

    async def log(
        self,
        job: str,
        start: int = 1,
        limit: int = 1000,
        *,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> LogPage:
        return await self.views.query(_log_page, job, start, limit, since, tail)

    async def follow(self, job: str, start: int = 1) -> AsyncIterator[LogLineRow]:
        job_id = (await self.get(job)).job_id
        async for page in self.follow_json(job_id, start):
            for _, line in page:
                yield LogLineRow.model_validate({"job_id": job_id, **orjson.loads(line)})

    async def follow_json(
        self, job_id: str, start: int = 1
    ) -> AsyncIterator[list[tuple[int, str]]]:
        """The lines of `job_id` from `start` on, as (n, the line's JSON as the API sends
        it), a page (never empty) at a time, until the job has ended and all were given or
        `stop` is set. The views are read again when they apply a batch (their wake-up, not
        a poll), and nothing is held per follower but the next line number and
        `queries.log_tail`'s lower bound."""
        after = -1
        while not self.stop.is_set():
            # Taken before the query: a batch applied while it runs wakes the wait below.
            applied = self.views.next_apply()
            completed, rows, after = await self.views.query(
                queries.log_tail, job_id, start, FOLLOW_PAGE, after
            )
            if rows:
                yield rows
                start = rows[-1][0] + 1
            if len(rows) < FOLLOW_PAGE:  # all the views held: only a new batch adds lines
                if completed:
                    return
                await self._either(applied, _LOOK_AGAIN)

    async def _either(self, applied: asyncio.Event, timeout: float) -> None:
        """Wait until a batch is applied, `stop` is set or `timeout` seconds pass."""
        waits = [asyncio.ensure_future(applied.wait()), asyncio.ensure_future(self.stop.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def cancel(self, job: str, *, requested_by: str = "anonymous") -> CancelOutcome:
        """See JobsService.cancel; `requested_by` names who asks (the API: the token's name)."""
        record = await self.get(job)
        if not record.completed:
            await request_cancel(self.event_log, self.topics, record.job_id, requested_by)
        return CancelOutcome(
            job_id=record.job_id, requested=not record.completed, status=record.status
        )

    async def retry(self, job: str, *, submitter: str | None = None) -> RetryOutcome:
        """See JobsService.retry; `submitter` names who asks (the API: the token's name;
        default: who submitted the job)."""
        record = await self.get(job)
        if not record.completed:
            raise JobNotEnded(record.job_id, record.status.name)
        if record.submitted_partition is None or record.submitted_offset is None:
            # Its job-events were read, but no JobSubmitted: there is no document to retry.
            raise LogError(f"job {record.job_id} has no submission in the log to retry")
        original = await read_submission(
            self.event_log,
            self.topics,
            record.job_id,
            record.submitted_partition,
            record.submitted_offset,
        )
        event = retry_submission(original, self._secrets(), submitter=submitter)
        await self._queue(event)
        return RetryOutcome(job_id=event.job_id, retry_of=record.job_id)

    async def _queue(self, event: JobSubmitted) -> None:
        record = await submit(self.event_log, self.topics, event)
        if self.visible_within > 0:
            # After this the job is in the log all the same: it is queued, only not shown yet.
            with contextlib.suppress(TimeoutError):
                await self.views.wait_for(record, timeout=self.visible_within)

    async def stats(self) -> Stats:
        return await self.views.query(queries.stats)

    async def steps(self, job: str) -> JobSteps:
        return await self.views.query(_steps, job)

    async def dead_letters(self) -> list[DeadLetterEntry]:
        from jobstream.callbacks.store import CallbackStore

        letters = [
            DeadLetterEntry(
                consumer=d.consumer or "views",
                topic=d.topic,
                partition=d.partition,
                offset=d.offset,
                reason=d.error,
                time=d.recorded_at,
            )
            for d in await self.views.query(queries.dead_letters)
        ]
        if self.callbacks is not None and self.callbacks.exists():
            async with CallbackStore(self.callbacks) as store:
                letters += [
                    DeadLetterEntry(
                        consumer=d.consumer or "callback",
                        topic=d.topic,
                        partition=d.partition,
                        offset=d.offset,
                        reason=d.error,
                        time=d.recorded_at,
                    )
                    for d in await store.dead_letters()
                ]
        return sorted(letters, key=lambda d: (d.time, d.consumer, d.topic, d.partition, d.offset))

    async def wait(self, job: str, *, timeout: float, after: Record | None = None) -> JobRecord:
        if after is None:
            return await super().wait(job, timeout=timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await self.views.wait_for(after, timeout=timeout)
        except TimeoutError:
            raise self._late(job) from None
        return await super().wait(job, timeout=max(0.0, deadline - loop.time()))


def _find(conn: duckdb.DuckDBPyConnection, job: str) -> JobRecord:
    return _shown(queries.get_job(conn, queries.resolve_job_id(conn, job)))


def _shown(record: JobRecord) -> JobRecord:
    # The views hold documents redacted already; views built before that held sealed
    # values until a replay rewrites them, and no answer hands one out even then.
    return record.model_copy(update={"document": redact_document(record.document)})


def _log_page(
    conn: duckdb.DuckDBPyConnection,
    job: str,
    start: int,
    limit: int,
    since: datetime | None = None,
    tail: int | None = None,
) -> LogPage:
    # The record first: lines read after a "completed" record are then all the lines
    # (Completed is applied after the job's last LogAppended: same partition, in order).
    record = _find(conn, job)
    start = queries.log_start(conn, record.job_id, start, since=since, tail=tail)
    lines = queries.log_range(conn, record.job_id, start, limit)
    return LogPage(
        job_id=record.job_id,
        lines=lines,
        next=lines[-1].n + 1 if lines else start,
        completed=record.completed,
    )


def _steps(conn: duckdb.DuckDBPyConnection, job: str) -> JobSteps:
    # The record first: its last_line says which lines a running section has written.
    record = _find(conn, job)
    stages, steps = queries.job_sections(conn, record.job_id)
    by_stage: dict[int, list[StepRun]] = {}
    for step in steps:
        first, last = _line_range(step, record.last_line)
        by_stage.setdefault(step.stage, []).append(
            StepRun(
                index=step.step,
                action=step.action,
                title=step.title,
                status=step.status,  # type: ignore[arg-type]
                exit_code=step.exit_code,
                started_at=step.started_at,
                finished_at=step.finished_at,
                duration_s=step.duration_s,
                first_line=first,
                last_line=last,
            )
        )
    runs = []
    for stage in stages:
        first, last = _line_range(stage, record.last_line)
        runs.append(
            StageRun(
                index=stage.stage,
                name=stage.name,
                status=stage.status,  # type: ignore[arg-type]
                started_at=stage.started_at,
                finished_at=stage.finished_at,
                duration_s=stage.duration_s,
                first_line=first,
                last_line=last,
                steps=by_stage.get(stage.stage, []),
            )
        )
    return JobSteps(job_id=record.job_id, stages=runs)


def _line_range(row: JobStageRow | JobStepRow, written: int) -> tuple[int | None, int | None]:
    """(first, last) line it wrote: `first` once a line is stored (`written` is the job's
    highest), `last` once it has finished; both None when it wrote none."""
    end = row.last_line if row.last_line is not None else written
    if end < row.first_line:
        return None, None
    return row.first_line, row.last_line


def _page_of_jobs(
    conn: duckdb.DuckDBPyConnection,
    filters: dict[str, Any],
    until: datetime | None,
    limit: int,
    offset: int,
    position: Cursor | None,
) -> JobList:
    # The count and the page in one call on the views' thread: no batch applied between.
    total = queries.count_jobs(conn, **filters, until=until)
    upper, start = until, offset
    if position is not None:
        upper, start = position.until(until), position.offset
    jobs = queries.list_jobs(conn, **filters, until=upper, limit=limit, offset=start)
    following = None
    if len(jobs) == limit:
        absolute = position.position if position is not None else offset
        following = next_cursor(position, absolute, jobs).encode()
    return JobList(
        jobs=[_shown(j) for j in jobs],
        total=total,
        limit=limit,
        offset=None if position is not None else offset,
        next_cursor=following,
    )
