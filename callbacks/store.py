"""The callback hosts' own SQLite file: where each callback is, what it delivered, what
failed, what jobs are.

One file per data directory (`callbacks.sqlite`), shared by every callback host on the
machine (WAL; each write is one `BEGIN IMMEDIATE` transaction, so hosts in several
processes can write at once):

- `positions`: per callback, topic and partition, the offset of the next record to handle.
  It is written in the same transaction as the deliveries and dead letters of the records
  it passes, so it never runs ahead of what is recorded, and a restart resumes from it.
- `deliveries`: event ids each callback has handled (delivered, or dead-lettered), so a
  record read twice (a producer's retry, a start from the earliest record) is skipped: each
  event id reaches a callback once, although the log delivers at least once.
- `dead_letters`: events a callback gave up on (and malformed records), with the error.
- `jobs`: the JobInfo of every JobSubmitted seen, so a restarted host, or a callback started
  with `--from latest`, still knows the names and labels of jobs submitted before.
- `hosts`: every callback that has run here, with its pid and last sign of life, for
  `jobstream callbacks list`.

Every call runs on the store's own thread (one connection), never on the event loop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict

from jobstream.callbacks.base import CallbackConfigError, JobInfo
from jobstream.events.dead_letters import DeadLetter
from jobstream.events.log.base import TopicPartition
from jobstream.events.log.sqlite import DatabaseThread, immediate

__all__ = ["CallbackStore", "HostRecord", "Outcomes"]

T = TypeVar("T")

_BUSY_TIMEOUT = 30.0
# SQLite's default limit on host parameters is 32766; stay well under it.
_CHUNK = 900

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    callback TEXT NOT NULL,
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    PRIMARY KEY (callback, topic, "partition")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    callback TEXT NOT NULL,
    event_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (callback, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    callback TEXT NOT NULL,
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    event_id TEXT,
    job_id TEXT,
    event_type TEXT,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (callback, topic, "partition", "offset")
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    info TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hosts (
    callback TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    topics TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    stopped_ms INTEGER
);
"""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# The dead_letters columns before at_ms, as DeadLetter calls them.
_DEAD_FIELDS = (
    "consumer",
    "topic",
    "partition",
    "offset",
    "event_id",
    "job_id",
    "event_type",
    "error",
    "attempts",
)


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(slots=True)
class Outcomes:
    """What one transaction records for a callback: the records it passed, and what came of
    those its hook took."""

    delivered: list[tuple[str, TopicPartition, int]] = field(default_factory=list)
    """(event id, partition, offset) of each event delivered."""
    dead: list[DeadLetter] = field(default_factory=list)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    """The next offset to handle in each partition passed."""

    @property
    def count(self) -> int:
        """Deliveries and dead letters: what a crash before the write would repeat."""
        return len(self.delivered) + len(self.dead)

    def __bool__(self) -> bool:
        return bool(self.positions or self.delivered or self.dead)


class HostRecord(BaseModel):
    """A callback that has run on this data directory."""

    model_config = ConfigDict(frozen=True)

    callback: str
    spec: str
    topics: list[str]
    pid: int
    started: datetime
    seen: datetime
    stopped: datetime | None

    def running(self, within: float) -> bool:
        """Not stopped cleanly, and seen in the last `within` seconds."""
        age = datetime.now(UTC) - self.seen
        return self.stopped is None and age.total_seconds() <= within


class _Db:
    """The connection and every statement; used only from the store's thread."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT, isolation_level=None)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            with self.write():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self.db.execute(statement)
                hosts = {row[1] for row in self.db.execute("PRAGMA table_info(hosts)")}
                if "grp" in hosts:  # a file of the hosts that read as consumer groups
                    self.db.execute("ALTER TABLE hosts DROP COLUMN grp")
        except BaseException:
            self.db.close()
            raise

    def write(self) -> contextlib.AbstractContextManager[None]:
        return immediate(self.db)

    def save_jobs(self, infos: Sequence[JobInfo]) -> None:
        with self.write():
            self.db.executemany(
                "INSERT OR IGNORE INTO jobs (job_id, info) VALUES (?, ?)",
                [(i.id, i.model_dump_json()) for i in infos],
            )

    def jobs(self, ids: Sequence[str]) -> dict[str, JobInfo]:
        found: dict[str, JobInfo] = {}
        for chunk in _chunks(ids):
            rows = self.db.execute(
                f"SELECT info FROM jobs WHERE job_id IN ({_marks(chunk)})", chunk
            )
            for (info,) in rows:
                job = JobInfo.model_validate_json(info)
                found[job.id] = job
        return found

    def delivered(self, callback: str, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(event_ids):
            rows = self.db.execute(
                f"SELECT event_id FROM deliveries WHERE callback = ? AND event_id IN "
                f"({_marks(chunk)})",
                [callback, *chunk],
            )
            found.update(r[0] for r in rows)
        return found

    def positions(self, callback: str) -> dict[TopicPartition, int]:
        rows = self.db.execute(
            'SELECT topic, "partition", "offset" FROM positions WHERE callback = ?', (callback,)
        )
        return {TopicPartition(t, p): o for t, p, o in rows}

    def start_at(
        self, callback: str, positions: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        with self.write():
            stored = self.positions(callback)
            if not stored:
                self._write_positions(callback, positions)
                stored = dict(positions)
        return stored

    def record(self, callback: str, outcomes: Outcomes) -> None:
        at = _now_ms()
        with self.write():
            delivered = [
                (callback, key, *tp, offset, "delivered", at)
                for key, tp, offset in outcomes.delivered
            ]
            given_up = [
                (callback, d.event_id, d.topic, d.partition, d.offset, "dead", at)
                for d in outcomes.dead
                if d.event_id is not None
            ]
            self.db.executemany(
                'INSERT OR IGNORE INTO deliveries (callback, event_id, topic, "partition",'
                ' "offset", outcome, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
                delivered + given_up,
            )
            for dead in outcomes.dead:
                self._dead_letter(callback, dead)
            self._write_positions(callback, outcomes.positions)

    def _write_positions(self, callback: str, positions: Mapping[TopicPartition, int]) -> None:
        # Never backwards: a host started from the earliest record passes again what it had
        # passed, and a second host of the same callback may lag behind the first.
        self.db.executemany(
            'INSERT INTO positions (callback, topic, "partition", "offset") VALUES (?, ?, ?, ?)'
            ' ON CONFLICT (callback, topic, "partition")'
            ' DO UPDATE SET "offset" = max("offset", excluded."offset")',
            [(callback, *tp, offset) for tp, offset in positions.items()],
        )

    def _dead_letter(self, callback: str, d: DeadLetter) -> None:
        # Keyed by position: a malformed record read again after a restart is listed once.
        self.db.execute(
            'INSERT OR IGNORE INTO dead_letters (callback, topic, "partition", "offset",'
            " event_id, job_id, event_type, error, attempts, at_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                callback,
                d.topic,
                d.partition,
                d.offset,
                d.event_id,
                d.job_id,
                d.event_type,
                d.error,
                d.attempts,
                int(d.recorded_at.timestamp() * 1000),
            ),
        )

    def dead_letters(self, callback: str | None) -> list[DeadLetter]:
        sql = (
            'SELECT callback, topic, "partition", "offset", event_id, job_id, event_type,'
            " error, attempts, at_ms FROM dead_letters"
        )
        params: tuple[Any, ...] = ()
        if callback is not None:
            sql += " WHERE callback = ?"
            params = (callback,)
        rows = self.db.execute(sql + ' ORDER BY at_ms, topic, "partition", "offset"', params)
        # at_ms comes back as milliseconds: DeadLetter takes a datetime.
        return [
            DeadLetter(**dict(zip(_DEAD_FIELDS, row[:9], strict=True)), recorded_at=_time(row[9]))
            for row in rows
        ]

    def counts(self, callback: str) -> dict[str, int]:
        (delivered,) = self.db.execute(
            "SELECT COUNT(*) FROM deliveries WHERE callback = ? AND outcome = 'delivered'",
            (callback,),
        ).fetchone()
        (dead,) = self.db.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE callback = ?", (callback,)
        ).fetchone()
        return {"delivered": delivered, "dead": dead}

    def register(self, callback: str, spec: str, topics: Sequence[str]) -> None:
        now = _now_ms()
        with self.write():
            self.db.execute(
                "INSERT OR REPLACE INTO hosts (callback, spec, topics, pid, started_ms,"
                " seen_ms, stopped_ms) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (callback, spec, orjson.dumps(list(topics)).decode(), os.getpid(), now, now),
            )

    def beat(self, callback: str, stopped: bool) -> None:
        now = _now_ms()
        with self.write():
            self.db.execute(
                "UPDATE hosts SET seen_ms = ?, stopped_ms = ? WHERE callback = ? AND pid = ?",
                (now, now if stopped else None, callback, os.getpid()),
            )

    def hosts(self) -> list[HostRecord]:
        rows = self.db.execute(
            "SELECT callback, spec, topics, pid, started_ms, seen_ms, stopped_ms"
            " FROM hosts ORDER BY callback"
        )
        return [
            HostRecord(
                callback=callback,
                spec=spec,
                topics=orjson.loads(topics),
                pid=pid,
                started=_time(started),
                seen=_time(seen),
                stopped=_time(stopped),
            )
            for callback, spec, topics, pid, started, seen, stopped in rows
        ]


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield list(items[i : i + _CHUNK])


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" * len(items))


class CallbackStore:
    """The callbacks' SQLite file at `path` (created on `open`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._thread: DatabaseThread[_Db] = DatabaseThread(f"the callback store {self.path}")

    @classmethod
    async def open(cls, path: Path) -> CallbackStore:
        store = cls(path)
        await store.start()
        return store

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._thread.start(lambda: _Db(self.path))

    async def close(self) -> None:
        await self._thread.close(lambda db: db.db.close())

    async def __aenter__(self) -> CallbackStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._thread.call(fn, *args)

    def _live(self) -> _Db:
        return self._thread.db

    async def save_jobs(self, infos: Sequence[JobInfo]) -> None:
        """Remember jobs (the first JobSubmitted of a job id wins)."""
        if infos:
            await self._call(self._live().save_jobs, list(infos))

    async def jobs(self, ids: Iterable[str]) -> dict[str, JobInfo]:
        """The known JobInfo of each of `ids` (missing ids are left out)."""
        wanted = list(dict.fromkeys(ids))
        return await self._call(self._live().jobs, wanted) if wanted else {}

    async def delivered(self, callback: str, event_ids: Iterable[str]) -> set[str]:
        """Which of `event_ids` `callback` has already handled."""
        wanted = list(dict.fromkeys(event_ids))
        return await self._call(self._live().delivered, callback, wanted) if wanted else set()

    async def positions(self, callback: str) -> dict[TopicPartition, int]:
        """Where `callback` is: the next offset to handle, per partition it has passed."""
        return await self._call(self._live().positions, callback)

    async def start_at(
        self, callback: str, positions: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """`callback`'s positions; `positions` become them if it has none yet (a first
        start from the latest records: it must begin there after a restart, too)."""
        return await self._call(self._live().start_at, callback, dict(positions))

    async def record(self, callback: str, outcomes: Outcomes) -> None:
        """What `callback` made of some records, in one transaction with its new positions:
        a crash keeps all of it or none (then those records are handled again)."""
        if outcomes:
            await self._call(self._live().record, callback, outcomes)

    async def dead_letters(self, callback: str | None = None) -> list[DeadLetter]:
        return await self._call(self._live().dead_letters, callback)

    async def counts(self, callback: str) -> dict[str, int]:
        """`callback`'s deliveries and dead letters: {"delivered": n, "dead": n}."""
        return await self._call(self._live().counts, callback)

    @contextlib.contextmanager
    def hosting(self, callback: str) -> Iterator[None]:
        """Hold `callback` for this process: two hosts of one callback would both deliver
        everything (each reads every partition), so a second one on this store is refused.
        An OS lock beside the store, released when the process ends, however it ends."""
        path = self.path.with_name(f"{self.path.stem}-{callback}.lock")
        with path.open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise CallbackConfigError(
                    f"callback {callback!r} is already running on {self.path}"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    async def register(self, callback: str, spec: str, topics: Sequence[str]) -> None:
        await self._call(self._live().register, callback, spec, list(topics))

    async def beat(self, callback: str, *, stopped: bool = False) -> None:
        await self._call(self._live().beat, callback, stopped)

    async def hosts(self) -> list[HostRecord]:
        return await self._call(self._live().hosts)
