"""The DuckDB store of the views: rows, applied seqs and checkpoints in one transaction.

Like eventsourcing's tracking recorders, the public method (`apply`) owns the transaction and
its underscore twins (`_write_checkpoint(conn, ...)` and the others) take the connection, so
they compose. The checkpoint is the next offset per (projection, topic, partition); records
below it are skipped, and events below the applied seq of their writer are skipped too, so
a restart or a producer's retry never applies anything twice.

LogAppended records (nearly all of them, and nearly all the bytes) take a fast path: their
raw JSON goes to DuckDB as an Arrow column (read in place, not converted value by value),
and one statement parses it (`from_json`) into a TEMP table for the batch; Python reads
back only one small row of facts per event (`LogChunk`), the fold decides which chunks
apply and from which line, and one `INSERT ... SELECT` copies those lines into
`log_lines`. A record the fast path is not sure of (not UTF-8, bad JSON, a missing or
mistyped field, lines out of order) is decoded by pydantic like every other event, so it
is folded whole or dead-lettered with pydantic's error. The parse and the checks of "sure"
are generated from the event models (projections.schema.LOG_APPENDED), as is every
table's SQL. A batch with fewer LogAppended bytes than FAST_PATH_BYTES is decoded by pydantic
whole: staging has a fixed cost that a few small records do not repay.

A DuckDB connection is not thread-safe: ViewsHost calls `apply` and every query from
one worker thread. Only one process may hold the file (DuckDB allows one writer per file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from pydantic import ValidationError

from jobstream.events.dead_letters import storable
from jobstream.events.documents.ingest import is_stages_topic
from jobstream.events.documents.reading import read_record
from jobstream.events.documents.stages import decode_stage
from jobstream.events.errors import MalformedEvent, ViewsBusy, ViewsOutdated
from jobstream.events.log.base import Record, TopicPartition
from jobstream.events.models import (
    EVENT_ADAPTER,
    Event,
    JobSubmitted,
    LogAppended,
    StageDefined,
)
from jobstream.projections.fold import (
    RUNNING,
    AppliedKey,
    FoldResult,
    LineColumns,
    LogChunk,
    Placed,
    Sections,
    fold,
    fold_stages,
    jobs_touched,
)
from jobstream.projections.records import JobRecord, JobStageRow, JobStepRow
from jobstream.projections.schema import (
    APPLIED,
    CHECKPOINTS,
    DDL,
    DEAD_LETTERS,
    JOB_RECORDS,
    JOB_STAGES,
    JOB_STEPS,
    LAYOUT,
    LOG_APPENDED,
    LOG_LINES,
    LOG_SPANS,
    STAGES,
    quote,
)

__all__ = ["DuckDBViews"]

# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/python3
# (PID 4552). See also ...'
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")

_STAGED = "jobstream_staged_lines"
_RAW = "jobstream_raw_values"
"""The Arrow table of a batch's raw LogAppended values (index `i`, bytes `v`), registered
for the staging statement: DuckDB scans it in place, where a list parameter would convert
every value first."""

KNOWN_JOBS = 50_000
"""Jobs not yet completed whose rows the views keep in memory (`_Known`); past it they
are all let go and read again as their events come: a bound on memory, not on what is
right."""

FAST_PATH_BYTES = 64 << 10
"""LogAppended bytes a batch must hold to take the fast path; a smaller batch is decoded by
pydantic. Staging costs about 8 ms a batch however few its records (a TEMP table, the parse
and the checks planned anew), pydantic about 0.1 ms per 4 KiB record, so in CPU the two
cross near 300 KiB (bench/live_apply.py). The threshold sits lower because pydantic holds
the interpreter's lock, which `serve`'s event loop needs for every step of its jobs, and
DuckDB's parse does not: at 64 KiB pydantic holds it for under 2 ms a batch, and costs
about the CPU staging would."""

MEMORY_LIMIT = "512MB"
"""DuckDB's own memory (its buffer cache, and what a query holds before it spills to a
temporary file). DuckDB's default, 80% of the machine's memory, lets the cache of a views
file grow with the log: a catch-up's peak grew by about 110 MiB per GiB of backlog."""

# try(): a value that is not UTF-8 or not JSON gives a NULL record (then pydantic says
# why), never an error. Only the records pydantic would accept are kept
# (projections.schema builds that check and the type from the model) whose line numbers
# are strictly increasing (what LogChunk promises the fold): each above the one before,
# one pass rather than a sort. Of each, only what the fold and the insert read is kept,
# and the facts are computed while the parsed record is at hand.
_STAGE = f"""
CREATE OR REPLACE TEMP TABLE {_STAGED} AS
SELECT i, job_id, writer, seq, lines, count, first, last, size FROM (
    SELECT
        i, e.job_id, e.writer, e.seq, e.lines,
        len(e.lines) AS count, e.lines[1].n AS first, e.lines[-1].n AS last,
        list_sum(list_transform(e.lines, lambda x: strlen(x.text))) AS size,
        {LOG_APPENDED.valid("raw", "e")} AND coalesce(
            list_bool_and(list_transform(e.lines, lambda x, k: k = 1 OR x.n > e.lines[k - 1].n)),
            false
        ) AS ok
    FROM (
        SELECT i, raw, try(from_json(raw, {LOG_APPENDED.sql_type})) AS e
        FROM (SELECT i, try(decode(v)) AS raw FROM {_RAW})
    )
)
WHERE ok
"""

_FACTS = f"SELECT i, job_id, writer, seq, count, first, last, size FROM {_STAGED}"

# A log_lines column is the line's field of that name, or else the event's (job_id).
_LINE_FIELDS = set(LOG_APPENDED.type["lines"][0])
_STAGED_LINE = ", ".join(
    f"x.{quote(c.name)}" if c.name in _LINE_FIELDS else f"job_id AS {quote(c.name)}"
    for c in LOG_LINES.written
)

_INSERT_STAGED = f"""
INSERT INTO {LOG_LINES.name} BY NAME
SELECT {_STAGED_LINE}
FROM (
    SELECT s.job_id, t.threshold, unnest(s.lines) AS x
    FROM {_STAGED} s
    JOIN (SELECT unnest($i::INTEGER[]) AS i, unnest($t::BIGINT[]) AS threshold) t USING (i)
)
WHERE x.n > threshold
"""

# Every staged chunk applies, each from its first line (a replay's usual batch): all their
# lines, with no join against the thresholds.
_INSERT_ALL_STAGED = f"""
INSERT INTO {LOG_LINES.name} BY NAME
SELECT {_STAGED_LINE}
FROM (SELECT s.job_id, unnest(s.lines) AS x FROM {_STAGED} s)
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

_WRITE_SPANS = f"""
INSERT INTO {LOG_SPANS.name}
SELECT job_id, min(pos), max(pos) FROM {LOG_LINES.name} WHERE pos > $after GROUP BY job_id
ON CONFLICT (job_id) DO UPDATE SET last_pos = excluded.last_pos
RETURNING last_pos
"""

_DELETE_APPLIED = f"""
DELETE FROM {APPLIED.name} USING (SELECT unnest($j::VARCHAR[]) AS j, unnest($w::VARCHAR[]) AS w) t
WHERE {APPLIED.name}.job_id = t.j AND {APPLIED.name}.writer = t.w
"""

_BAD_TIMES = f"""
SELECT DISTINCT a FROM (SELECT unnest($a::VARCHAR[]) AS a)
WHERE try_cast(a AS {LOG_LINES["at"].type}) IS NULL
"""


def _check_layout(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """ViewsOutdated when a file that holds views lacks a table or a column of LAYOUT (a
    new file has none yet: DDL creates them). A table added later counts too: an older
    jobstream's projector passed over the events it holds, so it would stay short."""
    present: dict[str, set[str]] = {}
    for table, column in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall():
        present.setdefault(table, set()).add(column)
    if JOB_RECORDS.name not in present:
        return
    missing: list[str] = []
    for table, columns in LAYOUT.items():
        if table not in present:
            missing.append(f"table {table}")
            continue
        absent = [c for c in columns if c not in present[table]]
        # job_records' columns by name alone, as they were reported before other tables.
        missing += absent if table == JOB_RECORDS.name else [f"{table}.{c}" for c in absent]
    if missing:
        conn.close()
        raise ViewsOutdated(str(path), missing)


class DuckDBViews:
    """The views in one DuckDB file. Use `DuckDBViews.open(path)`; not thread-safe."""

    def __init__(
        self, conn: duckdb.DuckDBPyConnection, path: Path, fast_path_bytes: int = FAST_PATH_BYTES
    ) -> None:
        self._conn = conn
        self.path = path
        self.fast_path_bytes = fast_path_bytes
        # The highest `pos` committed: read once, then carried from batch to batch (this
        # process is the file's only writer) rather than a scan of log_spans per batch.
        self._pos: int | None = None
        # Likewise the checkpoints, by projection, and the rows of the jobs still running.
        self._checkpoints: dict[str, dict[TopicPartition, int]] = {}
        self._known = _Known()

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        check_layout: bool = True,
        fast_path_bytes: int = FAST_PATH_BYTES,
    ) -> DuckDBViews:
        """Open (creating if needed) the views at `path`.

        Raises ViewsBusy naming the holder when another process has the file open, and
        ViewsOutdated when an older jobstream built the file (`CREATE TABLE IF NOT EXISTS`
        keeps its old columns, and every write would fail on the missing ones); `replay`,
        which only holds the old file while it builds a new one, passes
        `check_layout=False`. A batch takes the fast path from `fast_path_bytes` of
        LogAppended values."""
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
        conn.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        if check_layout:
            _check_layout(conn, path)
        conn.execute(DDL)
        return cls(conn, path, fast_path_bytes)

    @property
    def conn(self) -> duckdb.DuckDBPyConnection:
        """The connection, for projections.queries (from the thread that applies)."""
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def positions(self, projection: str = "views") -> dict[TopicPartition, int]:
        """The next offset to read, per partition this projection has checkpointed."""
        return dict(self._checkpoint(projection))

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
            done = self._checkpoint(projection)
            # Plain (topic, partition) tuples, equal to TopicPartitions: a replay's batch
            # holds some 10,000 records, and `Record.tp` builds a named tuple each call.
            fresh = [r for r in records if r.offset >= done.get((r.topic, r.partition), 0)]
            stage_records: list[Record] = []
            if any(is_stages_topic(t) for t in {r.topic for r in fresh}):
                stage_records = [r for r in fresh if is_stages_topic(r.topic)]
                fresh = [r for r in fresh if not is_stages_topic(r.topic)]
            items, dead = self._decode(conn, fresh, self.fast_path_bytes)
            dead += self._apply_stages(conn, stage_records)
            events = [item for item, _ in items]
            touched = jobs_touched(events)
            self._read_missing(conn, touched)
            rows, applied, sections = self._known.of(touched)
            result = fold(rows, applied, events, sections, _submissions(items))
            last_pos = self._pos if self._pos is not None else self._last_pos(conn)
            staged = sum(isinstance(e, LogChunk) for e in events)
            self._write_staged_lines(conn, result, staged)
            seqs, taken = self._known.seqs(result)
            self._write_rows(conn, result, self._known.jobs)
            self._write_applied(conn, seqs, taken)
            written = last_pos
            if result.chunks or len(result.lines):
                written = self._write_spans(conn, last_pos)
            self._write_dead_letters(conn, dead)
            if staged:
                conn.execute(f"DROP TABLE {_STAGED}")
            # Log order per partition: each partition's last record is its highest.
            last = {(r.topic, r.partition): r.offset for r in records}
            ends = {
                TopicPartition(*tp): max(offset + 1, done.get(tp, 0)) for tp, offset in last.items()
            }
            self._write_checkpoint(conn, projection, ends)
            conn.commit()
        except BaseException:
            conn.rollback()
            self._forget()
            raise
        self._pos = written
        self._checkpoints[projection] = done | ends
        self._known.update(result, seqs, taken)
        return ends

    def set_aside(
        self, record: Record, reason: str, *, projection: str = "views"
    ) -> dict[TopicPartition, int]:
        """Dead-letter `record` with `reason` (one `apply` failed on alone) and move the
        checkpoint past it, in one transaction; returns the checkpoint written."""
        conn = self._conn
        conn.begin()
        try:
            checkpoint = self._checkpoint(projection)
            done = checkpoint.get(record.tp, 0)
            ends = {record.tp: max(done, record.offset + 1)}
            if record.offset >= done:
                self._write_dead_letters(conn, [(record, reason)])
            self._write_checkpoint(conn, projection, ends)
            conn.commit()
        except BaseException:
            conn.rollback()
            self._forget()
            raise
        self._checkpoints[projection] = checkpoint | ends
        return ends

    def _checkpoint(self, projection: str) -> dict[TopicPartition, int]:
        """The projection's checkpoint: read once, then kept as each commit moves it."""
        if projection not in self._checkpoints:
            self._checkpoints[projection] = self._positions(self._conn, projection)
        return self._checkpoints[projection]

    def _forget(self) -> None:
        """After a rollback: what was kept in memory may be ahead of the file."""
        self._checkpoints.clear()
        self._known = _Known()
        self._pos = None

    def _read_missing(self, conn: duckdb.DuckDBPyConnection, job_ids: list[str]) -> None:
        """Keep the committed rows, applied seqs and RUNNING sections of the jobs among
        `job_ids` not kept yet (a rollback forgets them all again)."""
        missing = self._known.missing(job_ids)
        if not missing:
            return
        known = self._known
        rows = self._read_jobs(conn, missing)
        for job_id in missing:
            known.jobs[job_id] = rows.get(job_id)
        # Every applied event writes its job's row: a job without one has no applied seqs
        # and no sections either (in `serve`, most jobs read are the batch's new ones).
        held = list(rows)
        for (job_id, writer), seq in self._read_applied(conn, held).items():
            known.applied.setdefault(job_id, {})[writer] = seq
        sections = self._read_open_sections(conn, held)
        for key, stage in sections.stages.items():
            known.stages.setdefault(key[0], {})[key] = stage
        for key, step in sections.steps.items():
            known.steps.setdefault(key[0], {})[key] = step

    @staticmethod
    def _decode(
        conn: duckdb.DuckDBPyConnection, records: list[Record], fast_path_bytes: int
    ) -> tuple[list[tuple[Event | LogChunk, Record]], list[tuple[Record, str]]]:
        """The events among `records` in order, each with its record (LogAppended as
        LogChunks, lines staged in DuckDB, where the fast path could take them: when they
        hold `fast_path_bytes` at least), and the dead letters, with why."""
        slots: list[Event | LogChunk | None] = [None] * len(records)
        fast_i: list[int] = []
        fast_v: list[bytes] = []
        for i, r in enumerate(records):
            kind = r.headers.get("type")
            if kind == "LogAppended" or (kind is None and b'"LogAppended"' in r.value):
                fast_v.append(r.value)
                fast_i.append(i)
        if fast_v and sum(map(len, fast_v)) >= fast_path_bytes:
            raw = pa.table({"i": pa.array(fast_i, pa.int32()), "v": pa.array(fast_v, pa.binary())})
            conn.register(_RAW, raw)
            try:
                conn.execute(_STAGE)
            finally:
                conn.unregister(_RAW)
            facts = conn.execute(_FACTS).fetchall()
            for i, job_id, writer, seq, count, first, last, size in facts:
                slots[i] = LogChunk(i, job_id, writer, seq, count, first, last, size)
            if not facts:
                # apply drops the table once it has copied the lines of the chunks staged.
                conn.execute(f"DROP TABLE {_STAGED}")
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
        items = [(item, records[i]) for i, item in enumerate(slots) if item is not None]
        return items, dead_records

    @staticmethod
    def _apply_stages(
        conn: duckdb.DuckDBPyConnection, records: list[Record]
    ) -> list[tuple[Record, str]]:
        """Write the stage rows of stages-topic records; returns the dead letters."""
        if not records:
            return []
        events: list[tuple[int, StageDefined]] = []
        dead: list[tuple[Record, str]] = []
        for r in records:
            try:
                events.append((r.offset, decode_stage(r)))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "event"
                dead.append((r, f"{where}: {first['msg']}"))
        names = list({e.name for _, e in events})
        held = conn.execute(
            "SELECT name, version FROM stages WHERE name IN (SELECT unnest($n::VARCHAR[]))",
            {"n": names},
        ).fetchall()
        rows = fold_stages([(n, v) for n, v in held], events)
        if rows:
            STAGES.write_rows(conn, rows)
        return dead

    @staticmethod
    def _write_staged_lines(
        conn: duckdb.DuckDBPyConnection, result: FoldResult, staged: int
    ) -> None:
        """Copy the applied chunks' new lines from the staging table (which holds `staged`
        chunks); count the partial ones."""
        if not result.chunks:
            return
        if not result.partial and len(result.chunks) == staged:
            # No chunk is partial, so each applies from its first line.
            conn.execute(_INSERT_ALL_STAGED)
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
        rows = conn.execute(
            JOB_RECORDS.select("WHERE job_id IN (SELECT unnest($ids::VARCHAR[]))"),
            {"ids": job_ids},
        ).fetchall()
        return {job.job_id: job for job in JOB_RECORDS.load(rows, trusted=True)}

    @staticmethod
    def _read_applied(conn: duckdb.DuckDBPyConnection, job_ids: list[str]) -> dict[AppliedKey, int]:
        if not job_ids:
            return {}
        rows = conn.execute(
            f"SELECT job_id, writer, seq FROM {APPLIED.name} "
            "WHERE job_id IN (SELECT unnest($ids::VARCHAR[]))",
            {"ids": job_ids},
        ).fetchall()
        return {(job_id, writer): seq for job_id, writer, seq in rows}

    @staticmethod
    def _read_open_sections(conn: duckdb.DuckDBPyConnection, job_ids: list[str]) -> Sections:
        """The RUNNING stage and step rows of `job_ids`: the only ones an event changes."""
        sections = Sections()
        if not job_ids:
            return sections
        where = "WHERE status = $running AND job_id IN (SELECT unnest($ids::VARCHAR[]))"
        params = {"running": RUNNING, "ids": job_ids}
        for stage in JOB_STAGES.load(
            conn.execute(JOB_STAGES.select(where), params).fetchall(), trusted=True
        ):
            sections.stages[(stage.job_id, stage.stage)] = stage
        for step in JOB_STEPS.load(
            conn.execute(JOB_STEPS.select(where), params).fetchall(), trusted=True
        ):
            sections.steps[(step.job_id, step.stage, step.step)] = step
        return sections

    @classmethod
    def _write_rows(
        cls,
        conn: duckdb.DuckDBPyConnection,
        result: FoldResult,
        before: Mapping[str, JobRecord | None],
    ) -> None:
        cls._write_jobs(conn, list(result.jobs.values()), before)
        cls._write_lines(conn, result.lines)
        if result.sections.stages:
            JOB_STAGES.write_rows(conn, list(result.sections.stages.values()))
        if result.sections.steps:
            JOB_STEPS.write_rows(conn, list(result.sections.steps.values()))

    @staticmethod
    def _write_jobs(
        conn: duckdb.DuckDBPyConnection,
        jobs: list[JobRecord],
        before: Mapping[str, JobRecord | None],
    ) -> None:
        """Insert the rows new to the views; of the others, whose row as committed is in
        `before`, set only the columns that changed in any of them, in one UPDATE: most
        events change a few of the 33 columns, and a statement costs about per column."""
        whole: list[JobRecord] = []
        changed: list[JobRecord] = []
        fields: set[str] = set()
        for job in jobs:
            old = before.get(job.job_id)
            if old is None:
                whole.append(job)
                continue
            differ = {f for f in _JOB_FIELDS if getattr(job, f) != getattr(old, f)}
            if differ:
                fields |= differ
                changed.append(job)
        if whole:
            JOB_RECORDS.write_rows(conn, whole, new=True)
        if changed:
            JOB_RECORDS.update_rows(conn, changed, fields)

    @staticmethod
    def _write_applied(
        conn: duckdb.DuckDBPyConnection, seqs: dict[AppliedKey, int], taken: list[AppliedKey]
    ) -> None:
        """Upsert `seqs` of writers that are not their job's current one, and delete the
        rows of `taken` (writers that became it): nothing at all in most batches."""
        if seqs:
            APPLIED.write(
                conn,
                {
                    "job_id": [job_id for job_id, _ in seqs],
                    "writer": [writer for _, writer in seqs],
                    "seq": list(seqs.values()),
                },
            )
        if taken:
            conn.execute(
                _DELETE_APPLIED,
                {"j": [job_id for job_id, _ in taken], "w": [writer for _, writer in taken]},
            )

    @staticmethod
    def _write_lines(conn: duckdb.DuckDBPyConnection, lines: LineColumns) -> None:
        if not len(lines):
            return
        # Line timestamps stay RFC 3339 text until here: DuckDB casts the whole column.
        LOG_LINES.write(
            conn,
            {
                "job_id": lines.job_id,
                "n": lines.n,
                "at": lines.at,
                "stream": lines.stream,
                "text": lines.text,
            },
        )

    @staticmethod
    def _last_pos(conn: duckdb.DuckDBPyConnection) -> int:
        (last,) = conn.execute(
            f"SELECT coalesce(max(last_pos), 0) FROM {LOG_SPANS.name}"
        ).fetchone() or (0,)
        return int(last)

    @staticmethod
    def _write_spans(conn: duckdb.DuckDBPyConnection, after: int) -> int:
        """Extend the spans of the jobs whose lines were written past `after`, and return
        the highest `pos` now written (the spans returned say it: no second scan). The zone
        map of `pos` skips every row group but the batch's."""
        spans = conn.execute(_WRITE_SPANS, {"after": after}).fetchall()
        return max((last for (last,) in spans), default=after)

    @staticmethod
    def _write_dead_letters(
        conn: duckdb.DuckDBPyConnection, dead: list[tuple[Record, str]]
    ) -> None:
        if not dead:
            return
        DEAD_LETTERS.write(
            conn,
            {
                "topic": [r.topic for r, _ in dead],
                "partition": [r.partition for r, _ in dead],
                "offset": [r.offset for r, _ in dead],
                "error": [storable(error) for _, error in dead],
                "value": [r.value for r, _ in dead],
            },
        )

    @staticmethod
    def _write_checkpoint(
        conn: duckdb.DuckDBPyConnection, projection: str, positions: dict[TopicPartition, int]
    ) -> None:
        CHECKPOINTS.write(
            conn,
            {
                "projection": [projection] * len(positions),
                "topic": [tp.topic for tp in positions],
                "partition": [tp.partition for tp in positions],
                "position": list(positions.values()),
            },
        )


_JOB_FIELDS = tuple(dict.fromkeys(c.field for c in JOB_RECORDS.written if c.field))


@dataclass
class _Known:
    """What the views hold of the jobs that have not completed, kept in memory from batch to
    batch: this process is the file's only writer, so it need not read them back before
    each fold. A job is either kept whole (its row, or None while it has none; every
    applied seq; every RUNNING stage and step) or not at all. A completed job is let go:
    later events change nothing of it but a retry's `retried_by`, read again then."""

    jobs: dict[str, JobRecord | None] = field(default_factory=dict)
    # The rows of APPLIED: the seqs of writers other than the job's current one.
    applied: dict[str, dict[str, int]] = field(default_factory=dict)
    stages: dict[str, dict[tuple[str, int], JobStageRow]] = field(default_factory=dict)
    steps: dict[str, dict[tuple[str, int, int], JobStepRow]] = field(default_factory=dict)

    def missing(self, job_ids: list[str]) -> list[str]:
        return [job_id for job_id in job_ids if job_id not in self.jobs]

    def of(
        self, job_ids: list[str]
    ) -> tuple[dict[str, JobRecord], dict[AppliedKey, int], Sections]:
        """fold's inputs for `job_ids`, all kept."""
        rows = {job_id: row for job_id in job_ids if (row := self.jobs[job_id]) is not None}
        applied = {
            (job_id, writer): seq
            for job_id in job_ids
            for writer, seq in self.applied.get(job_id, {}).items()
        }
        sections = Sections()
        for job_id in job_ids:
            sections.stages.update(self.stages.get(job_id, {}))
            sections.steps.update(self.steps.get(job_id, {}))
        return rows, applied, sections

    def seqs(self, result: FoldResult) -> tuple[dict[AppliedKey, int], list[AppliedKey]]:
        """What `result` changes in APPLIED: the seqs to upsert (of writers that are not
        their job's `writer` after the batch), and the rows to delete (of writers that
        became it, whose seq the job row now holds). A table that leaves out the current
        writer's seq, whatever the batches, is what a replay builds too."""
        seqs = {k: seq for k, seq in result.applied.items() if k[1] != result.jobs[k[0]].writer}
        taken = [
            (job_id, row.writer)
            for job_id, row in result.jobs.items()
            if row.writer is not None and row.writer in self.applied.get(job_id, {})
        ]
        return seqs, taken

    def update(
        self, result: FoldResult, seqs: dict[AppliedKey, int], taken: list[AppliedKey]
    ) -> None:
        """Keep what a committed fold wrote (`seqs` and `taken` as from `seqs`)."""
        for (job_id, writer), seq in seqs.items():
            self.applied.setdefault(job_id, {})[writer] = seq
        for job_id, writer in taken:
            self.applied[job_id].pop(writer)
        _keep_open(self.stages, result.sections.stages)
        _keep_open(self.steps, result.sections.steps)
        for job_id, row in result.jobs.items():
            if row.completed:
                self.jobs.pop(job_id, None)
                self.applied.pop(job_id, None)
                self.stages.pop(job_id, None)
                self.steps.pop(job_id, None)
            else:
                self.jobs[job_id] = row
        if len(self.jobs) > KNOWN_JOBS:
            self.jobs.clear()
            self.applied.clear()
            self.stages.clear()
            self.steps.clear()


def _keep_open(
    kept: dict[str, dict[Any, Any]], written: dict[Any, JobStageRow | JobStepRow]
) -> None:
    """Keep the RUNNING rows among `written`, let go of those that ended."""
    for key, row in written.items():
        rows = kept.setdefault(key[0], {})
        if row.status == RUNNING:
            rows[key] = row
        else:
            rows.pop(key, None)


def _submissions(items: list[tuple[Event | LogChunk, Record]]) -> dict[str, Placed]:
    """Where the first JobSubmitted of each job among `items` sits (fold's `submitted_at`)."""
    placed: dict[str, Placed] = {}
    for event, record in items:
        if isinstance(event, JobSubmitted):
            placed.setdefault(event.job_id, (record.partition, record.offset))
    return placed


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
    of those that are not, with why. Each record is validated on its own: validating a
    batch as one JSON array would accept three invalid records that join into valid text
    (`{..."reason":"abc`, `def"}`, and `{...},{...}` as one record)."""
    out: list[Event | None] = []
    dead: list[tuple[int, str]] = []
    validate = EVENT_ADAPTER.validate_json
    for k, record in enumerate(records):
        try:
            out.append(validate(record.value))
            continue
        except ValidationError:
            pass
        event = read_record(record)
        if isinstance(event, MalformedEvent):
            out.append(None)
            dead.append((k, str(event)))
        else:
            out.append(event)
    return out, dead
