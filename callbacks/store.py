"""The callback hosts' own SQLite file: what was delivered, what failed, what jobs are.

One file per data directory (`callbacks.sqlite`), shared by every callback host on the
machine (WAL; each write is one `BEGIN IMMEDIATE` transaction, so hosts in several
processes can write at once):

- `deliveries`: event ids each callback has handled (delivered, or dead-lettered). A host
  records a delivery here before it commits its log position, so after a crash it reads
  again from the committed position and skips what is recorded: each event id reaches a
  callback once, although the log delivers at least once.
- `dead_letters`: events a callback gave up on (and malformed records), with the error.
- `jobs`: the JobInfo of every JobSubmitted seen, so a restarted host, or a callback started
  with `--from latest`, still knows the names and labels of jobs submitted before.
- `hosts`: every callback that has run here, with its pid and last sign of life, for
  `jobstream callbacks list`.

Every call runs on the store's own thread (one connection), never on the event loop.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict

from jobstream.callbacks.base import JobInfo
from jobstream.events.log.sqlite import DatabaseThread, immediate

__all__ = ["CallbackStore", "DeadLetter", "HostRecord"]

T = TypeVar("T")

_BUSY_TIMEOUT = 30.0
# SQLite's default limit on host parameters is 32766; stay well under it.
_CHUNK = 900

_SCHEMA = """
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
    grp TEXT NOT NULL,
    topics TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    seen_ms INTEGER NOT NULL,
    stopped_ms INTEGER
);
"""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


class DeadLetter(BaseModel):
    """An event a callback gave up on, or a record that is not an event (no event id)."""

    model_config = ConfigDict(frozen=True)

    callback: str
    topic: str
    partition: int
    offset: int
    event_id: str | None
    job_id: str | None
    event_type: str | None
    error: str
    attempts: int
    at: datetime


class HostRecord(BaseModel):
    """A callback that has run on this data directory."""

    model_config = ConfigDict(frozen=True)

    callback: str
    spec: str
    group: str
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

    def record(
        self,
        callback: str,
        event_id: str,
        where: tuple[str, int, int],
        outcome: str,
        dead: DeadLetter | None,
    ) -> None:
        with self.write():
            self.db.execute(
                'INSERT OR IGNORE INTO deliveries (callback, event_id, topic, "partition",'
                ' "offset", outcome, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
                (callback, event_id, *where, outcome, _now_ms()),
            )
            if dead is not None:
                self._dead_letter(dead)

    def record_many(
        self, callback: str, deliveries: Sequence[tuple[str, tuple[str, int, int]]]
    ) -> None:
        at = _now_ms()
        with self.write():
            self.db.executemany(
                'INSERT OR IGNORE INTO deliveries (callback, event_id, topic, "partition",'
                ' "offset", outcome, at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
                [(callback, key, *where, "delivered", at) for key, where in deliveries],
            )

    def dead_letter(self, dead: DeadLetter) -> None:
        with self.write():
            self._dead_letter(dead)

    def _dead_letter(self, d: DeadLetter) -> None:
        # Keyed by position: a malformed record read again after a restart is listed once.
        self.db.execute(
            'INSERT OR IGNORE INTO dead_letters (callback, topic, "partition", "offset",'
            " event_id, job_id, event_type, error, attempts, at_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                d.callback,
                d.topic,
                d.partition,
                d.offset,
                d.event_id,
                d.job_id,
                d.event_type,
                d.error,
                d.attempts,
                int(d.at.timestamp() * 1000),
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
        rows = [(*row[:9], _time(row[9])) for row in rows]
        names = list(DeadLetter.model_fields)
        return [DeadLetter.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    def counts(self, callback: str) -> dict[str, int]:
        (delivered,) = self.db.execute(
            "SELECT COUNT(*) FROM deliveries WHERE callback = ? AND outcome = 'delivered'",
            (callback,),
        ).fetchone()
        (dead,) = self.db.execute(
            "SELECT COUNT(*) FROM dead_letters WHERE callback = ?", (callback,)
        ).fetchone()
        return {"delivered": delivered, "dead": dead}

    def register(self, callback: str, spec: str, group: str, topics: Sequence[str]) -> None:
        now = _now_ms()
        with self.write():
            self.db.execute(
                "INSERT OR REPLACE INTO hosts (callback, spec, grp, topics, pid, started_ms,"
                " seen_ms, stopped_ms) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (callback, spec, group, orjson.dumps(list(topics)).decode(), os.getpid(), now, now),
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
            "SELECT callback, spec, grp, topics, pid, started_ms, seen_ms, stopped_ms"
            " FROM hosts ORDER BY callback"
        )
        return [
            HostRecord(
                callback=callback,
                spec=spec,
                group=group,
                topics=orjson.loads(topics),
                pid=pid,
                started=_time(started),
                seen=_time(seen),
                stopped=_time(stopped),
            )
            for callback, spec, group, topics, pid, started, seen, stopped in rows
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

    async def record_deliveries(
        self, callback: str, deliveries: Sequence[tuple[str, tuple[str, int, int]]]
    ) -> None:
        """`callback` has handled each (event id, (topic, partition, offset)), at once."""
        await self._call(self._live().record_many, callback, list(deliveries))

    async def record_dead(self, dead: DeadLetter) -> None:
        """A dead letter; with an event id, the event also counts as handled (one
        transaction, so a restart neither loses the letter nor delivers the event again)."""
        db = self._live()
        if dead.event_id is None:
            await self._call(db.dead_letter, dead)
        else:
            where = (dead.topic, dead.partition, dead.offset)
            await self._call(db.record, dead.callback, dead.event_id, where, "dead", dead)

    async def dead_letters(self, callback: str | None = None) -> list[DeadLetter]:
        return await self._call(self._live().dead_letters, callback)

    async def counts(self, callback: str) -> dict[str, int]:
        """`callback`'s deliveries and dead letters: {"delivered": n, "dead": n}."""
        return await self._call(self._live().counts, callback)

    async def register(self, callback: str, spec: str, group: str, topics: Sequence[str]) -> None:
        await self._call(self._live().register, callback, spec, group, list(topics))

    async def beat(self, callback: str, *, stopped: bool = False) -> None:
        await self._call(self._live().beat, callback, stopped)

    async def hosts(self) -> list[HostRecord]:
        return await self._call(self._live().hosts)
