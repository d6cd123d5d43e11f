"""Helpers for the callback tests: real events on a real embedded log, real HTTP servers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jobstream.callbacks import Callback, CallbackHost, CallbackStore, JobInfo, current_delivery
from jobstream.events.log.base import Message, to_message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import (
    Completed,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)
from jobstream.events.names import Topics

TOPICS = Topics()


def job_messages(
    job_id: str | None = None,
    *,
    name: str = "build",
    version: str = "1.2.0",
    labels: dict[str, str] | None = None,
    success: bool = True,
    chunks: int = 1,
    failing: bool = False,
) -> tuple[str, list[Message], list[Message]]:
    """One finished job: (job id, messages for the jobs topic, messages for job-events)."""
    job_id = job_id or uuid.uuid4().hex
    document = {"name": name, "version": version, "sequence": [{"stage": "s"}]}
    submitted = JobSubmitted(
        job_id=job_id, writer="submit", seq=1, document=document, labels=labels or {}
    )
    writer = "attempt-1"
    events: list[Any] = []
    statuses = [(Status.WAITING, Status.NEW), (Status.STARTED, Status.WAITING)]
    if failing:
        statuses.append((Status.FAILING, Status.STARTED))
    for status, previous in statuses:
        events.append(
            StatusChanged(
                job_id=job_id,
                writer=writer,
                seq=len(events) + 1,
                status=status,
                previous=previous,
            )
        )
    for c in range(chunks):
        lines = [
            LogLine(n=c * 2 + i, at="2026-11-28T00:00:00Z", stream="stdout", text=f"line {i}")
            for i in (1, 2)
        ]
        events.append(LogAppended(job_id=job_id, writer=writer, seq=len(events) + 1, lines=lines))
    end = Status.SUCCEEDED if success else Status.FAILED
    events.append(
        StatusChanged(
            job_id=job_id, writer=writer, seq=len(events) + 1, status=end, previous=statuses[-1][0]
        )
    )
    events.append(
        Completed(
            job_id=job_id,
            writer=writer,
            seq=len(events) + 1,
            success=success,
            status=end,
            lines=2 * chunks,
            bytes=12 * chunks,
        )
    )
    return job_id, [to_message(submitted)], [to_message(e) for e in events]


async def append_jobs(log: EmbeddedLog, count: int, **options: Any) -> list[str]:
    """`count` finished jobs, appended to both topics; returns their ids."""
    ids = []
    jobs: list[Message] = []
    events: list[Message] = []
    for _ in range(count):
        job_id, j, e = job_messages(**options)
        ids.append(job_id)
        jobs.extend(j)
        events.extend(e)
    await log.append(TOPICS.jobs, jobs)
    await log.append(TOPICS.events, events)
    return ids


@dataclass
class Call:
    hook: str
    job: JobInfo
    arg: Any
    event_id: str


class Recorder(Callback):
    """Records every hook call."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def _add(self, hook: str, job: JobInfo, arg: Any) -> None:
        self.calls.append(Call(hook, job, arg, current_delivery().key))

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        self._add("status_changed", job, status)

    async def log_write(self, job: JobInfo, lines: list[LogLine]) -> None:
        self._add("log_write", job, lines)

    async def completion(self, job: JobInfo, success: bool) -> None:
        self._add("completion", job, success)

    def hooks(self, hook: str) -> list[Call]:
        return [c for c in self.calls if c.hook == hook]


class Failing(Callback):
    """Every hook raises."""

    def __init__(self) -> None:
        self.calls = 0

    async def completion(self, job: JobInfo, success: bool) -> None:
        self.calls += 1
        raise RuntimeError("always broken")

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        self.calls += 1
        raise RuntimeError("always broken")


@contextlib.asynccontextmanager
async def running(
    log: EmbeddedLog, store: CallbackStore, callback: Callback, name: str, **options: Any
) -> AsyncIterator[CallbackHost]:
    """A host delivering in a task until the block ends (then stopped cleanly)."""
    host = CallbackHost(log, TOPICS, callback, store, name=name, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(host.run(stop))
    try:
        yield host
    finally:
        stop.set()
        await task


# --- HTTP receivers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    """An HTTP server on 127.0.0.1 in a thread; `respond(request) -> (status, json body)`."""

    respond: Callable[[Request], tuple[int, Any]]
    port: int = field(default_factory=free_port)
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
                with outer._lock:
                    status, body = outer.respond(request)
                    outer.requests.append(request)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        # Bound again on the same port after a stop: the "receiver came back" case.
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextlib.contextmanager
def serving(respond: Callable[[Request], tuple[int, Any]]) -> Iterator[Server]:
    server = Server(respond)
    server.start()
    try:
        yield server
    finally:
        server.stop()
