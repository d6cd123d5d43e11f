"""The DuckDB store of the views: rows, applied seqs and checkpoints in one transaction.

Like eventsourcing's tracking recorders, the public method (`apply`) owns the transaction and
its underscore twins (`_write_checkpoint(conn, ...)` and the others) take the connection, so
they compose. The checkpoint is the next offset per (projection, topic, partition); records
below it are skipped, and events below the applied seq of their writer are skipped too, so
a restart or a producer's retry never applies anything twice.

LogAppended records (nearly all of them, and nearly all the bytes) take a fast path: their
raw JSON goes to DuckDB in one statement that parses it (`from_json`) into a TEMP table for
the batch; Python reads back only one small row of facts per event (`LogChunk`), the fold
decides which chunks apply and from which line, and one `INSERT ... SELECT` copies those
lines into `log_lines`. A record the fast path is not sure of (bad JSON, a missing or
mistyped field, lines out of order) is decoded by pydantic like every other event, so it is
folded whole or dead-lettered with pydantic's error.

A DuckDB connection is not thread-safe: ViewsHost calls `apply` and every query from
one worker thread. Only one process may hold the file (DuckDB allows one writer per file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import TypeAdapter, ValidationError

from jobstream.events.documents.ingest import decode_record
from jobstream.events.errors import MalformedEvent, ViewsBusy
from jobstream.events.log.base import Record, TopicPartition
from jobstream.events.models import Event, LogAppended, Status
from jobstream.projections.fold import AppliedKey, FoldResult, LineColumns, LogChunk, fold
from jobstream.projections.records import JobRecord
from jobstream.projections.schema import DDL, JOB_COLUMNS

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
    unnest($last_seq::BIGINT[]) AS last_seq,
    unnest($retry_of::VARCHAR[]) AS retry_of,
    unnest($attempt::INTEGER[]) AS attempt,
    unnest($document::JSON[]) AS document
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


_STAGED = "jobstream_staged_lines"

# The LogAppended envelope and lines as DuckDB parses them: a field that is missing, null or
# of a type DuckDB cannot convert comes out NULL (a line's "at" is parsed right here).
_LOG_APPENDED_TYPE = (
    '{"type":"VARCHAR","event_id":"VARCHAR","job_id":"VARCHAR","writer":"VARCHAR",'
    '"seq":"BIGINT","at":"VARCHAR","v":"BIGINT",'
    '"lines":[{"n":"BIGINT","at":"TIMESTAMPTZ","stream":"VARCHAR","text":"VARCHAR"}]}'
)

# DuckDB converts what pydantic refuses (a number as "text", 3.5 as "seq"): a record in
# which a known key is not followed by the JSON type pydantic wants takes the pydantic path.
# Conservative: a space after the colon, or "3" for an int, also sends it there.
_SUSPECT = (
    r'"(?:type|event_id|job_id|writer|at|stream|text)":[^"]'
    r'|"(?:n|seq|v)":(?:[^0-9]|[0-9]+[.eE])'
)

_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_RFC3339 = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)

# try(): a value that is not JSON gives a NULL row (then pydantic says why), never an error.
_STAGE = f"""
CREATE OR REPLACE TEMP TABLE {_STAGED} AS
SELECT i, e.type, e.event_id, e.job_id, e.writer, e.seq, e."at", e.v, e.lines, suspect
FROM (
    SELECT
        i,
        try(from_json(raw, '{_LOG_APPENDED_TYPE}')) AS e,
        regexp_matches(raw, $suspect) AS suspect
    FROM (SELECT unnest($i::INTEGER[]) AS i, unnest($v::VARCHAR[]) AS raw)
)
"""

# One row per staged record: `ok` when pydantic would accept it and its line numbers are
# strictly increasing (what LogChunk promises the fold).
_FACTS = f"""
SELECT
    i, job_id, writer, seq, len(lines), lines[1].n, lines[-1].n,
    list_sum(list_transform(lines, lambda x: strlen(x.text))),
    coalesce(
        NOT suspect
        AND type = 'LogAppended'
        AND job_id <> '' AND writer <> '' AND seq >= 1
        AND (event_id IS NULL OR regexp_full_match(event_id, '{_UUID}'))
        AND ("at" IS NULL OR (regexp_full_match("at", '{_RFC3339}')
                              AND try_cast("at" AS TIMESTAMPTZ) IS NOT NULL))
        AND len(lines) >= 1
        AND list_bool_and(list_transform(lines, lambda x:
            x.n >= 1 AND x."at" IS NOT NULL AND x.text IS NOT NULL
            AND x.stream IN ('stdout', 'stderr', 'system')))
        AND list_sort(list_distinct(list_transform(lines, lambda x: x.n)))
            = list_transform(lines, lambda x: x.n),
        false
    )
FROM {_STAGED}
"""

_INSERT_STAGED = f"""
INSERT INTO log_lines
SELECT job_id, x.n, x."at", x.stream, x.text
FROM (
    SELECT s.job_id, t.threshold, unnest(s.lines) AS x
    FROM {_STAGED} s
    JOIN (SELECT unnest($i::INTEGER[]) AS i, unnest($t::BIGINT[]) AS threshold) t USING (i)
)
WHERE x.n > threshold
"""

# New lines and bytes of the chunks whose threshold falls inside their lines.
_PARTIAL = f"""
SELECT job_id, count(*), sum(strlen(x.text))
FROM (
    SELECT s.job_id, t.threshold, unnest(s.lines) AS x
    FROM {_STAGED} s
    JOIN (SELECT unnest($i::INTEGER[]) AS i, unnest($t::BIGINT[]) AS threshold) t USING (i)
)
WHERE x.n > threshold
GROUP BY job_id
"""

_BAD_TIMES = """
SELECT DISTINCT a FROM (SELECT unnest($a::VARCHAR[]) AS a) WHERE try_cast(a AS TIMESTAMPTZ) IS NULL
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

    def apply(
        self, records: Sequence[Record], *, projection: str = "views"
    ) -> dict[TopicPartition, int]:
        """Apply a batch of records (log order per partition) in one transaction: the rows
        they produce, the applied seqs and the checkpoint commit together or not at all.
        Returns the checkpoint written for the partitions of `records`.

        Records that are not valid events become dead letters; they never raise."""
        if not records:
            return {}
        conn = self._conn
        conn.begin()
        try:
            done = self._positions(conn, projection)
            fresh = [r for r in records if r.offset >= done.get(r.tp, 0)]
            items, dead = self._decode(conn, fresh)
            touched = list({e.job_id for e in items})
            result = fold(self._read_jobs(conn, touched), self._read_applied(conn, touched), items)
            self._write_staged_lines(conn, result)
            self._write_rows(conn, result)
            self._write_dead_letters(conn, dead)
            conn.execute(f"DROP TABLE IF EXISTS {_STAGED}")
            ends: dict[TopicPartition, int] = {}
            for r in records:
                ends[r.tp] = max(ends.get(r.tp, 0), r.offset + 1, done.get(r.tp, 0))
            self._write_checkpoint(conn, projection, ends)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return ends

    @staticmethod
    def _decode(
        conn: duckdb.DuckDBPyConnection, records: list[Record]
    ) -> tuple[list[Event | LogChunk], list[tuple[Record, str]]]:
        """The events among `records` in order (LogAppended as LogChunks, lines staged in
        DuckDB, where the fast path could take them), and the dead letters, with why."""
        slots: list[Event | LogChunk | None] = [None] * len(records)
        fast_i: list[int] = []
        fast_v: list[str] = []
        for i, r in enumerate(records):
            kind = r.headers.get("type")
            if kind == "LogAppended" or (kind is None and b'"LogAppended"' in r.value):
                try:
                    fast_v.append(r.value.decode())
                except UnicodeDecodeError:
                    continue
                fast_i.append(i)
        if fast_v:
            conn.execute(_STAGE, {"i": fast_i, "v": fast_v, "suspect": _SUSPECT})
            for i, job_id, writer, seq, count, first, last, size, ok in conn.execute(
                _FACTS
            ).fetchall():
                if ok:
                    slots[i] = LogChunk(i, job_id, writer, seq, count, first, last, size)
        slow = [i for i, item in enumerate(slots) if item is None]
        events, errors = _decode([records[i] for i in slow])
        dead = {slow[k]: error for k, error in errors}
        logs: list[tuple[int, LogAppended]] = []
        for i, event in zip(slow, events, strict=True):
            slots[i] = event
            if isinstance(event, LogAppended):
                logs.append((i, event))
        # pydantic keeps a line's "at" as text: one DuckDB cannot read would fail the insert.
        for i, error in _bad_times(conn, logs).items():
            slots[i] = None
            dead[i] = error
        dead_records = [(records[i], dead[i]) for i in sorted(dead)]
        return [item for item in slots if item is not None], dead_records

    @staticmethod
    def _write_staged_lines(conn: duckdb.DuckDBPyConnection, result: FoldResult) -> None:
        """Copy the applied chunks' new lines from the staging table; count the partial ones."""
        if not result.chunks:
            return
        params = {"i": list(result.chunks), "t": list(result.chunks.values())}
        if result.partial:
            partial = {"i": result.partial, "t": [result.chunks[i] for i in result.partial]}
            for job_id, count, size in conn.execute(_PARTIAL, partial).fetchall():
                job = result.jobs[job_id]
                job.lines += count
                job.bytes += size
        conn.execute(_INSERT_STAGED, params)

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
            row["document"] = json.loads(row["document"]) if row["document"] else None
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
            params["document"][-1] = None if job.document is None else json.dumps(job.document)
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


def _bad_times(
    conn: duckdb.DuckDBPyConnection, logs: list[tuple[int, LogAppended]]
) -> dict[int, str]:
    """The LogAppended events (by index) with a line whose `at` is not a timestamp."""
    if not logs:
        return {}
    times = [line.at for _, event in logs for line in event.lines]
    bad = {a for (a,) in conn.execute(_BAD_TIMES, {"a": times}).fetchall()}
    found: dict[int, str] = {}
    for i, event in logs:
        for k, line in enumerate(event.lines):
            if line.at in bad:
                found[i] = f"lines.{k}.at: not a timestamp: {line.at!r}"
                break
    return found


def _decode(records: list[Record]) -> tuple[list[Event | None], list[tuple[int, str]]]:
    """Each record as an event (None for one that is not), and the positions in `records`
    of those that are not, with why."""
    if not records:
        return [], []
    try:
        events = _BATCH_ADAPTER.validate_json(b"[" + b",".join(r.value for r in records) + b"]")
        if len(events) == len(records):
            return list(events), []
    except ValidationError:
        pass
    out: list[Event | None] = []
    dead: list[tuple[int, str]] = []
    for k, record in enumerate(records):
        try:
            out.append(decode_record(record))
        except MalformedEvent as exc:
            out.append(None)
            dead.append((k, str(exc)))
    return out, dead
