"""The Worker: consumes the jobs topic and runs up to `concurrency` jobs at once.

The whole loop, in the order it happens:

1. claim: read at most as many job records as there are free slots, and commit each
   record's offset *before* its job starts, so a job is started at most once per attempt
   (a worker that dies mid-job does not run it again on restart);
2. run: each job runs as a task with its own notifier (its events carry this attempt as
   `writer`) and heartbeats, so if this process dies the lease keeper ends the job FAILED;
3. cancel: a CancelWatcher follows the jobs topic and stops a running job when asked;
4. health: a small file under the data directory says this worker is alive and what it has
   done (`jobstream worker --check` reads it).

In burst mode (arq's `burst`) the loop ends instead of waiting once the jobs topic is read
to its end and no job is running: tests and one-shot runs submit, run a burst,
and then look at the log, with no sleep and no stop signal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from jobstream.dispatcher.attempt import new_writer, run_attempt
from jobstream.dispatcher.cancels import CancelWatcher
from jobstream.dispatcher.notifier import EventNotifier
from jobstream.events.documents.reading import read_record
from jobstream.events.documents.stages import StageCatalog
from jobstream.events.errors import MalformedEvent, NotAssigned
from jobstream.events.log.aio import pause
from jobstream.events.log.base import Consumer, EventLog, Record
from jobstream.events.models import JobSubmitted, Status
from jobstream.events.names import Topics
from jobstream.runners import Runner

__all__ = ["WORKER_GROUP", "Worker", "WorkerHealth", "check_health"]

log = logging.getLogger(__name__)

# The workers' consumer group, behind the topic prefix (Topics.group).
WORKER_GROUP = "jobstream-workers"


@dataclass
class WorkerHealth:
    name: str
    pid: int
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    expires_at: float = 0.0


class Worker:
    """Runs queued jobs.

    log: the event log holding the topics.
    topics: topic names.
    runner: executes one job document.
    concurrency: how many jobs run at once.
    lease: seconds a job's runner may stay silent before the job counts as lost.
    name: this worker's name in events and health files (default: host-pid-random).
    health_dir: where the health file goes (None: no health file).
    burst: return once a read of the jobs topic finds nothing while no job runs (see `run`).
    """

    def __init__(
        self,
        log: EventLog,
        topics: Topics,
        runner: Runner,
        *,
        concurrency: int = 4,
        lease: float = 30.0,
        name: str | None = None,
        health_dir: Path | None = None,
        burst: bool = False,
    ) -> None:
        self.log = log
        self.topics = topics
        self.runner = runner
        self.concurrency = concurrency
        self.lease = lease
        self.name = name or f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.health_dir = health_dir
        self.burst = burst
        self.health = WorkerHealth(self.name, os.getpid())
        self.cancels = CancelWatcher(log, topics.jobs)
        self.stages = StageCatalog()
        self._running: dict[str, asyncio.Task[Status]] = {}

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Claim and run jobs until `stop` is set; running jobs are then cancelled.

        In burst mode it also returns, without cancelling anything, once this worker runs
        no job and has read its partitions of the jobs topic to their ends (`EventLog.ends`,
        exact on both logs). A burst lasts as long as the queue does: it runs the jobs
        queued before it and any that arrive before the queue empties, each to its own end
        (timeouts and cancels still apply), and returns at most one read (0.2 s) after the
        last one ends. A producer that never lets the queue empty keeps it running, as
        with arq."""
        if stop is None:
            stop = asyncio.Event()
        group = self.topics.group(WORKER_GROUP)
        committed = await self.log.committed(group, self.topics.jobs)
        partitions = await self.log.partitions(self.topics.jobs)
        # Every job not yet claimed lies past the group's committed positions, and so does
        # any cancel request for it: the watcher starts there.
        since = {p: committed.get(p, 0) for p in range(partitions)}
        watcher = asyncio.create_task(self.cancels.run(stop, positions=since))
        health = asyncio.create_task(self._write_health(stop))
        try:
            await self.cancels.ready.wait()
            async with self.log.consumer([self.topics.jobs], group=group) as consumer:
                while not stop.is_set():
                    free = self.concurrency - len(self._running)
                    if free <= 0:
                        await self._wait_for_slot(stop)
                        continue
                    records = await consumer.getmany(max_records=free, timeout=0.2)
                    idle = self.burst and not records and not self._running
                    if idle and await self._drained(consumer):
                        break
                    if any("type" not in r.headers for r in records):
                        # A bare document from another client: its stored stages resolve
                        # against the stages topic as it is now.
                        await self.stages.refresh(self.log, self.topics.stages)
                    for record in records:
                        try:
                            await consumer.commit({record.tp: record.offset + 1})
                        except NotAssigned:
                            continue  # another member owns this partition now
                        self._start(record)
        finally:
            await self._shutdown()
            stop.set()
            await asyncio.gather(watcher, health, return_exceptions=True)

    async def _drained(self, consumer: Consumer) -> bool:
        """Has `consumer` read every partition it holds to the end of the log?"""
        held = consumer.assignment()
        ends = await self.log.ends([self.topics.jobs])
        return bool(held) and all(consumer.position(tp) >= ends.get(tp, 0) for tp in held)

    async def _wait_for_slot(self, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([stopping, *self._running.values()], return_when="FIRST_COMPLETED")
        stopping.cancel()

    def _start(self, record: Record) -> None:
        event = read_record(record, self.stages)
        if isinstance(event, MalformedEvent):
            # Projections dead-letter it with its position; a worker just passes it by.
            log.warning(
                "skipping %s[%d]@%d: %s", record.topic, record.partition, record.offset, event
            )
            return
        if not isinstance(event, JobSubmitted) or event.dispatch != "queue":
            return
        if event.job_id in self._running:
            return
        task = asyncio.create_task(self._run_job(event))
        self._running[event.job_id] = task
        task.add_done_callback(lambda _: self._running.pop(event.job_id, None))

    async def _run_job(self, event: JobSubmitted) -> Status:
        notifier = EventNotifier(self.log, self.topics.events, event.job_id, new_writer())
        cancel = self.cancels.watch(event.job_id)
        self.health.running += 1
        try:
            status = await run_attempt(
                self.runner,
                notifier,
                event.document,
                worker=self.name,
                lease=self.lease,
                cancel=cancel,
            )
        except Exception:
            log.exception("job %s crashed the runner", event.job_id)
            status = Status.FAILED
        finally:
            self.health.running -= 1
            self.cancels.forget(event.job_id)
        match status:
            case Status.SUCCEEDED:
                self.health.succeeded += 1
            case Status.CANCELLED:
                self.health.cancelled += 1
            case _:
                self.health.failed += 1
        log.info("job %s ended %s", event.job_id, status.name)
        return status

    async def _shutdown(self) -> None:
        for job_id in list(self._running):
            self.cancels.watch(job_id).set()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _write_health(self, stop: asyncio.Event) -> None:
        if self.health_dir is None:
            return
        self.health_dir.mkdir(parents=True, exist_ok=True)
        path = self.health_dir / f"{self.name}.json"
        interval = max(0.5, self.lease / 3)
        try:
            while not stop.is_set():
                self.health.expires_at = time.time() + interval * 2
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(asdict(self.health)))
                tmp.replace(path)
                await pause(stop, interval)
        finally:
            path.unlink(missing_ok=True)


def check_health(health_dir: Path) -> list[WorkerHealth]:
    """The workers of this host whose health file is fresh (`jobstream worker --check`).

    Containers share a data volume but not a host name: each checks its own worker."""
    host = f"{os.uname().nodename}-"
    alive = []
    for path in sorted(health_dir.glob("*.json")) if health_dir.is_dir() else []:
        try:
            health = WorkerHealth(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if health.name.startswith(host) and health.expires_at > time.time():
            alive.append(health)
    return alive
