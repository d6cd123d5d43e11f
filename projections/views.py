"""The DuckDB store of the views: rows, applied seqs and checkpoints in one transaction.

Like eventsourcing's tracking recorders, the public method (`apply`) owns the transaction and
its underscore twins (`_write_checkpoint(conn, ...)` and the others) take the connection, so
they compose. The checkpoint is the next offset per (projection, topic, partition); records
below it are skipped, and events below the applied seq of their writer are skipped too, so
a restart or a producer's retry never applies anything twice.

A DuckDB connection is not thread-safe: ProjectionHost calls `apply` and every query from
one worker thread. Only one process may hold the file (DuckDB allows one writer per file).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import TypeAdapter, ValidationError

from events.codec import decode
from events.errors import MalformedEvent, ViewsBusy
from events.log import Record, TopicPartition
from events.models import Event, Status
from projections.fold import AppliedKey, FoldResult, LineColumns, fold
from projections.records import JobRecord
from projections.schema import DDL, JOB_COLUMNS

__all__ = ["DuckDBViews"]

# A whole batch decoded by one Rust call; only a batch holding a bad record is decoded again
# record by record to find it.
_BATCH_ADAPTER: TypeAdapter[list[Event]] = TypeAdapter(list[Event])

# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/python3
# (PID 4552). See also ...'
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")

_READ_COLUMNS = [c for c in JOB_COLUMNS if c != "status_code"]

_UPSERT_JOBS = """
INSERT OR REPLACE INTO job_records BY NAME
SELECT
    unnest($job_id::VARCHAR[]) AS job_id,
    unnest($name::VARCHAR[]) AS name,
    unnest($version::VARCHAR[]) AS version,
    unnest($status::VARCHAR[]) AS status,
    unnest($status_code::INTEGER[]) AS status_code,
    unnest($submitted::TIMESTAMPTZ[]) AS submitted,
    unnest($started::TIMESTAMPTZ[]) AS started,
    unnest($ended::TIMESTAMPTZ[]) AS ended,
    unnest($success::BOOLEAN[]) AS success,
    unnest($stage::VARCHAR[]) AS stage,
    unnest($reason::VARCHAR[]) AS reason,
    unnest($submitter::VARCHAR[]) AS submitter,
    map(unnest($label_keys::VARCHAR[][]), unnest($label_values::VARCHAR[][])) AS labels,
    unnest($dispatch::VARCHAR[]) AS dispatch,
    unnest($lines::BIGINT[]) AS lines,
    unnest($bytes::BIGINT[]) AS bytes,
    unnest($last_line::BIGINT[]) AS last_line,
    unnest($writer::VARCHAR[]) AS writer,
    unnest($worker::VARCHAR[]) AS worker,
    unnest($heartbeat_at::TIMESTAMPTZ[]) AS heartbeat_at,
    unnest($lease_expires::TIMESTAMPTZ[]) AS lease_expires,
    unnest($completed::BOOLEAN[]) AS completed,
    unnest($last_seq::BIGINT[]) AS last_seq
"""

# Line timestamps stay RFC 3339 text until here: DuckDB casts the whole column at once.
_INSERT_LINES = """
INSERT INTO log_lines
SELECT
    unnest($job_id::VARCHAR[]),
    unnest($n::BIGINT[]),
    unnest($at::VARCHAR[])::TIMESTAMPTZ,
    unnest($stream::VARCHAR[]),
    unnest($text::VARCHAR[])
"""


class DuckDBViews:
    """The views in one DuckDB file. Use `DuckDBViews.open(path)`; not thread-safe."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> DuckDBViews:
        """Open (creating if needed) the views at `path`.

        Raises ViewsBusy naming the holder when another process has the file open."""
        path = Path(path)
        try:
            conn = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            match = _LOCK_HOLDER.search(str(exc))
            if match is None:
                raise
            holder = f"process {match['pid']} ({match['exe']})"
            raise ViewsBusy(str(path), holder) from exc
        # Timestamps come back as UTC datetimes whatever the machine's zone.
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(DDL)
        return cls(conn, path)

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        """The connection, for projections.queries (from the thread that applies)."""
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def positions(self, projection: str = "views") -> dict[TopicPartition, int]:
        """The next offset to read, per partition this projection has checkpointed."""
        return self._positions(self._conn, projection)

    def apply(self, records: Sequence[Record], *, projection: str = "views") -> None:
        """Apply a batch of records (log order per partition) in one transaction: the rows
        they produce, the applied seqs and the checkpoint commit together or not at all.

        Records that are not valid events become dead letters; they never raise."""
        if not records:
            return
        conn = self._conn
        conn.begin()
        try:
            done = self._positions(conn, projection)
            fresh = [r for r in records if r.offset >= done.get(r.tp, 0)]
            events, dead = _decode(fresh)
            touched = list({e.job_id for e in events})
            result = fold(self._read_jobs(conn, touched), self._read_applied(conn, touched), events)
            self._write_rows(conn, result)
            self._write_dead_letters(conn, dead)
            ends: dict[TopicPartition, int] = {}
            for r in records:
                ends[r.tp] = max(ends.get(r.tp, 0), r.offset + 1, done.get(r.tp, 0))
            self._write_checkpoint(conn, projection, ends)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    @staticmethod
    def _positions(conn: duckdb.DuckDBPyConnection, projection: str) -> dict[TopicPartition, int]:
        rows = conn.execute(
            'SELECT topic, "partition", position FROM checkpoints WHERE projection = $p',
            {"p": projection},
        ).fetchall()
        return {TopicPartition(t, p): pos for t, p, pos in rows}

    @staticmethod
    def _read_jobs(conn: duckdb.DuckDBPyConnection, job_ids: list[str]) -> dict[str, JobRecord]:
        if not job_ids:
            return {}
        cursor = conn.execute(
            f"SELECT {', '.join(_READ_COLUMNS)} FROM job_records "
            "WHERE job_id IN (SELECT unnest($ids::VARCHAR[]))",
            {"ids": job_ids},
        )
        jobs: dict[str, JobRecord] = {}
        for values in cursor.fetchall():
            row = dict(zip(_READ_COLUMNS, values, strict=True))
            row["status"] = Status[row["status"]]
            jobs[row["job_id"]] = JobRecord.model_construct(**row)
        return jobs

    @staticmethod
    def _read_applied(conn: duckdb.DuckDBPyConnection, job_ids: list[str]) -> dict[AppliedKey, int]:
        if not job_ids:
            return {}
        rows = conn.execute(
            "SELECT job_id, writer, seq FROM applied "
            "WHERE job_id IN (SELECT unnest($ids::VARCHAR[]))",
            {"ids": job_ids},
        ).fetchall()
        return {(job_id, writer): seq for job_id, writer, seq in rows}

    @classmethod
    def _write_rows(cls, conn: duckdb.DuckDBPyConnection, result: FoldResult) -> None:
        cls._write_jobs(conn, list(result.jobs.values()))
        cls._write_applied(conn, result.applied)
        cls._write_lines(conn, result.lines)

    @staticmethod
    def _write_jobs(conn: duckdb.DuckDBPyConnection, jobs: list[JobRecord]) -> None:
        if not jobs:
            return
        params: dict[str, list[Any]] = {c: [] for c in JOB_COLUMNS}
        params["label_keys"], params["label_values"] = [], []
        del params["labels"]
        for job in jobs:
            for column in _READ_COLUMNS:
                if column != "labels":
                    params[column].append(getattr(job, column))
            params["status"][-1] = job.status.name
            params["status_code"].append(job.status_code)
            params["label_keys"].append(list(job.labels))
            params["label_values"].append(list(job.labels.values()))
        conn.execute(_UPSERT_JOBS, params)

    @staticmethod
    def _write_applied(conn: duckdb.DuckDBPyConnection, applied: dict[AppliedKey, int]) -> None:
        if not applied:
            return
        conn.execute(
            "INSERT OR REPLACE INTO applied SELECT unnest($j::VARCHAR[]), "
            "unnest($w::VARCHAR[]), unnest($s::BIGINT[])",
            {
                "j": [job_id for job_id, _ in applied],
                "w": [writer for _, writer in applied],
                "s": list(applied.values()),
            },
        )

    @staticmethod
    def _write_lines(conn: duckdb.DuckDBPyConnection, lines: LineColumns) -> None:
        if not len(lines):
            return
        conn.execute(
            _INSERT_LINES,
            {
                "job_id": lines.job_id,
                "n": lines.n,
                "at": lines.at,
                "stream": lines.stream,
                "text": lines.text,
            },
        )

    @staticmethod
    def _write_dead_letters(
        conn: duckdb.DuckDBPyConnection, dead: list[tuple[Record, str]]
    ) -> None:
        if not dead:
            return
        conn.execute(
            'INSERT INTO dead_letters (topic, "partition", "offset", error, value) '
            "SELECT unnest($t::VARCHAR[]), unnest($p::INTEGER[]), unnest($o::BIGINT[]), "
            "unnest($e::VARCHAR[]), unnest($v::BLOB[])",
            {
                "t": [r.topic for r, _ in dead],
                "p": [r.partition for r, _ in dead],
                "o": [r.offset for r, _ in dead],
                "e": [error for _, error in dead],
                "v": [r.value for r, _ in dead],
            },
        )

    @staticmethod
    def _write_checkpoint(
        conn: duckdb.DuckDBPyConnection, projection: str, positions: dict[TopicPartition, int]
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO checkpoints SELECT $name, unnest($t::VARCHAR[]), "
            "unnest($p::INTEGER[]), unnest($o::BIGINT[])",
            {
                "name": projection,
                "t": [tp.topic for tp in positions],
                "p": [tp.partition for tp in positions],
                "o": list(positions.values()),
            },
        )


def _decode(records: list[Record]) -> tuple[list[Event], list[tuple[Record, str]]]:
    """The events among `records`, in order, and the records that are not events, with why."""
    if not records:
        return [], []
    try:
        events = _BATCH_ADAPTER.validate_json(b"[" + b",".join(r.value for r in records) + b"]")
        if len(events) == len(records):
            return events, []
    except ValidationError:
        pass
    good: list[Event] = []
    dead: list[tuple[Record, str]] = []
    for record in records:
        try:
            good.append(decode(record.value))
        except MalformedEvent as exc:
            dead.append((record, str(exc)))
    return good, dead
