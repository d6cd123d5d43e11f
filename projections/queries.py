"""Read-only queries of the views: functions of a DuckDB connection returning models.

Call them in the thread that owns the connection (ViewsHost.query does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb

from jobstream.events.errors import AmbiguousJobId, JobNotFound, StageNotFound
from jobstream.events.models import TERMINAL, Status
from jobstream.projections.records import (
    DeadLetter,
    JobRecord,
    JobStageRow,
    JobStepRow,
    LogLineRow,
    StageRecord,
    Stats,
)
from jobstream.projections.schema import (
    DEAD_LETTERS,
    JOB_RECORDS,
    JOB_STAGES,
    JOB_STEPS,
    LOG_LINES,
    LOG_SPANS,
    STAGES,
)

__all__ = [
    "count_dead_letters",
    "count_jobs",
    "dead_letters",
    "expired_leases",
    "failed_unretried",
    "get_job",
    "get_stage",
    "job_sections",
    "list_jobs",
    "list_stages",
    "log_matches",
    "log_range",
    "log_start",
    "log_tail",
    "resolve_job_id",
    "stats",
]

_LEASED = [s.name for s in (Status.WAITING, Status.STARTED, Status.FAILING)]
_GLOB = set("*?[")


def resolve_job_id(conn: duckdb.DuckDBPyConnection, prefix: str) -> str:
    """The one job id starting with `prefix` (JobNotFound / AmbiguousJobId otherwise)."""
    rows = conn.execute(
        "SELECT job_id FROM job_records WHERE starts_with(job_id, $p) ORDER BY job_id LIMIT 21",
        {"p": prefix},
    ).fetchall()
    ids = [r[0] for r in rows]
    if prefix in ids:
        return prefix
    if not ids:
        raise JobNotFound(prefix)
    if len(ids) > 1:
        raise AmbiguousJobId(prefix, ids)
    return ids[0]


def get_job(conn: duckdb.DuckDBPyConnection, job_id: str) -> JobRecord:
    jobs = _jobs(conn, "WHERE job_id = $id", {"id": job_id})
    if not jobs:
        raise JobNotFound(job_id)
    return jobs[0]


def list_jobs(
    conn: duckdb.DuckDBPyConnection,
    *,
    status: Status | str | Sequence[Status | str] | None = None,
    name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    labels: Mapping[str, str] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[JobRecord]:
    """Jobs matching every filter given, newest submitted first.

    `name` is a glob when it holds `*`, `?` or `[`, else a substring; `since`/`until` bound
    the submission time (inclusive, exclusive); `labels` must all match."""
    where, params = _filters(status, name, since, until, labels)
    params |= {"limit": limit, "offset": offset}
    return _jobs(
        conn,
        f"{where} ORDER BY submitted DESC NULLS LAST, job_id LIMIT $limit OFFSET $offset",
        params,
    )


def count_jobs(
    conn: duckdb.DuckDBPyConnection,
    *,
    status: Status | str | Sequence[Status | str] | None = None,
    name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    labels: Mapping[str, str] | None = None,
) -> int:
    """How many jobs `list_jobs` would page through with the same filters."""
    where, params = _filters(status, name, since, until, labels)
    row = conn.execute(f"SELECT count(*) FROM job_records {where}", params).fetchone()
    return row[0] if row else 0


def log_range(
    conn: duckdb.DuckDBPyConnection, job_id: str, start: int = 1, limit: int = 1000
) -> list[LogLineRow]:
    """Lines `start` .. `start + limit - 1` of a job's log (fewer at its end)."""
    where, params = _job_lines(conn, job_id)
    rows = conn.execute(
        LOG_LINES.select(f"WHERE {where} AND n >= $start AND n < $end ORDER BY n"),
        {**params, "start": start, "end": start + limit},
    ).fetchall()
    return LOG_LINES.load(rows)


def log_tail(
    conn: duckdb.DuckDBPyConnection, job_id: str, start: int, limit: int, after: int = -1
) -> tuple[bool, list[tuple[int, str]], int]:
    """Whether the job has ended, then lines `start` .. `start + limit - 1` of its log as
    (n, the line's JSON: n, at, stream, text): what a follower of the log reads at every
    wake-up. The flag is read first: lines read after an ended job's flag are all its
    lines (Completed is applied after its last line).

    Last, the `after` to pass to the next read: no line from `start` on has a `pos` at or
    below it. Lines come in batches that each take higher positions than any before, so
    once a read got every line there was, the next one skips every row group written by
    then; without it, each read of a live log would scan all its lines so far."""
    row = conn.execute(
        f"SELECT completed FROM {JOB_RECORDS.name} WHERE job_id = $id", {"id": job_id}
    ).fetchone()
    where, params = _job_lines(conn, job_id)
    # The JSON made here: a Python datetime per line cost 4x the rest of the query.
    rows = conn.execute(
        f"SELECT n, {_LINE_JSON} FROM {LOG_LINES.name}"
        f" WHERE {where} AND pos > $after AND n >= $start AND n < $end ORDER BY n",
        {**params, "after": after, "start": start, "end": start + limit},
    ).fetchall()
    if len(rows) < limit:  # all the lines there are: later ones come in later batches
        after = max(after, params["last"])
    return bool(row and row[0]), rows, after


# A log line as the API's LogLine, `at` in UTC ("Z"), to the microsecond.
_LINE_JSON = (
    "to_json({'n': n, 'at': strftime(\"at\" AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ'), "
    "'stream': stream, 'text': text})"
)


def log_matches(
    conn: duckdb.DuckDBPyConnection, job_id: str, text: str, start: int, limit: int
) -> list[int]:
    """The numbers of a job's lines from `start` on whose text contains `text`, ignoring
    case, at most `limit`."""
    where, params = _job_lines(conn, job_id)
    # contains() on lower(): a literal match, so `%`, `_` or regex characters mean themselves.
    rows = conn.execute(
        f"SELECT n FROM {LOG_LINES.name} WHERE {where} AND n >= $start"
        " AND contains(lower(text), lower($q)) ORDER BY n LIMIT $limit",
        {**params, "start": start, "q": text, "limit": limit},
    ).fetchall()
    return [n for (n,) in rows]


def _job_lines(conn: duckdb.DuckDBPyConnection, job_id: str) -> tuple[str, dict[str, Any]]:
    """The condition on log_lines of a job's lines, bounded by its span of `pos` so that a
    read skips the row groups written outside the job's lifetime (see projections.schema)."""
    span = conn.execute(
        f"SELECT first_pos, last_pos FROM {LOG_SPANS.name} WHERE job_id = $id", {"id": job_id}
    ).fetchone()
    first, last = span if span else (0, -1)
    return "pos BETWEEN $first AND $last AND job_id = $id", {
        "id": job_id,
        "first": first,
        "last": last,
    }


def log_start(
    conn: duckdb.DuckDBPyConnection,
    job_id: str,
    start: int = 1,
    *,
    since: datetime | None = None,
    tail: int | None = None,
) -> int:
    """The first line number to read, from `start` on: the first line written at or after
    `since`; of those, the first of the last `tail`. Past the last line when no line
    qualifies, so that following from there gives only the lines still to come."""
    if since is None and tail is None:
        return start
    lines, params = _job_lines(conn, job_id)
    where = f"{lines} AND n >= $start" + (' AND "at" >= $since' if since else "")
    params["start"] = start
    if since is not None:
        params["since"] = since
    if tail:  # the tail-th qualifying line from the end; with fewer, the first of them
        row = conn.execute(
            f"SELECT n FROM log_lines WHERE {where} ORDER BY n DESC LIMIT 1 OFFSET $skip",
            {**params, "skip": tail - 1},
        ).fetchone()
        if row is not None:
            return int(row[0])
    if tail != 0:
        (first,) = conn.execute(f"SELECT min(n) FROM log_lines WHERE {where}", params).fetchone()
        if first is not None:
            return int(first)
    lines, params = _job_lines(conn, job_id)
    (last,) = conn.execute(f"SELECT max(n) FROM log_lines WHERE {lines}", params).fetchone()
    return start if last is None else max(start, int(last) + 1)


def stats(conn: duckdb.DuckDBPyConnection) -> Stats:
    by_status = dict(
        conn.execute("SELECT status, count(*) FROM job_records GROUP BY status").fetchall()
    )
    finished = [s.name for s in TERMINAL]
    row = conn.execute(
        "SELECT count(*), avg(d), median(d) FROM ("
        "  SELECT epoch(ended - started) AS d FROM job_records"
        "  WHERE status IN (SELECT unnest($done::VARCHAR[])) AND started IS NOT NULL"
        "  AND ended IS NOT NULL)",
        {"done": finished},
    ).fetchone()
    count, mean, p50 = row if row else (0, None, None)
    return Stats(
        total=sum(by_status.values()),
        by_status=by_status,
        finished=count,
        mean_duration=mean,
        p50_duration=p50,
    )


def expired_leases(conn: duckdb.DuckDBPyConnection, now: datetime) -> list[JobRecord]:
    """Running jobs whose lease ran out before `now`: their runner is presumed dead."""
    return _jobs(
        conn,
        "WHERE NOT completed AND status IN (SELECT unnest($leased::VARCHAR[])) "
        "AND lease_expires < $now ORDER BY lease_expires",
        {"leased": _LEASED, "now": now},
    )


def job_sections(
    conn: duckdb.DuckDBPyConnection, job_id: str
) -> tuple[list[JobStageRow], list[JobStepRow]]:
    """A job's stage runs and their steps, in the order they ran (none for a job whose log
    has no stage events: one written before they existed)."""
    params = {"id": job_id}
    stages = conn.execute(JOB_STAGES.select("WHERE job_id = $id ORDER BY stage"), params)
    stage_rows = stages.fetchall()
    steps = conn.execute(JOB_STEPS.select("WHERE job_id = $id ORDER BY stage, step"), params)
    return JOB_STAGES.load(stage_rows), JOB_STEPS.load(steps.fetchall())


def failed_unretried(conn: duckdb.DuckDBPyConnection) -> list[JobRecord]:
    """Jobs whose automatic retry is due (`retry_due`) and not submitted yet: only those,
    so the lease keeper's sweep does not grow with the history of failed jobs."""
    return _jobs(conn, "WHERE retry_due AND retried_by IS NULL ORDER BY ended", {})


def count_dead_letters(conn: duckdb.DuckDBPyConnection) -> int:
    (count,) = conn.execute(f"SELECT count(*) FROM {DEAD_LETTERS.name}").fetchone() or (0,)
    return int(count)


def dead_letters(conn: duckdb.DuckDBPyConnection) -> list[DeadLetter]:
    rows = conn.execute(DEAD_LETTERS.select('ORDER BY topic, "partition", "offset"')).fetchall()
    return DEAD_LETTERS.load(rows)


def _jobs(conn: duckdb.DuckDBPyConnection, tail: str, params: dict[str, Any]) -> list[JobRecord]:
    return JOB_RECORDS.load(conn.execute(JOB_RECORDS.select(tail), params).fetchall())


def _filters(
    status: Status | str | Sequence[Status | str] | None,
    name: str | None,
    since: datetime | None,
    until: datetime | None,
    labels: Mapping[str, str] | None,
) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if status is not None:
        wanted = [status] if isinstance(status, Status | str) else list(status)
        params["status"] = [_status_name(s) for s in wanted]
        clauses.append("status IN (SELECT unnest($status::VARCHAR[]))")
    if name is not None:
        params["name"] = name
        if _GLOB & set(name):
            clauses.append("name GLOB $name")
        else:
            clauses.append("contains(name, $name)")
    if since is not None:
        params["since"] = since
        clauses.append("submitted >= $since")
    if until is not None:
        params["until"] = until
        clauses.append("submitted < $until")
    for i, (key, value) in enumerate((labels or {}).items()):
        params[f"lk{i}"], params[f"lv{i}"] = key, value
        clauses.append(f"labels[$lk{i}] = $lv{i}")
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def _status_name(status: Status | str) -> str:
    return status.name if isinstance(status, Status) else Status[status.upper()].name


def list_stages(conn: duckdb.DuckDBPyConnection, name: str | None = None) -> list[StageRecord]:
    """Stored stages by name, each name's versions in the order they were defined (all of
    them, or those of `name`)."""
    where, params = ("WHERE name = $name", {"name": name}) if name is not None else ("", {})
    rows = conn.execute(STAGES.select(f'{where} ORDER BY name, "offset"'), params).fetchall()
    return STAGES.load(rows)


def get_stage(
    conn: duckdb.DuckDBPyConnection, name: str, version: str | None = None
) -> StageRecord:
    """The stage `name` with `version`, or (None) the version a job would resolve to: the
    one defined most recently. StageNotFound if there is none."""
    versions = list_stages(conn, name)
    found = versions[-1:] if version is None else [s for s in versions if s.version == version]
    if not found:
        raise StageNotFound(name, version)
    return found[0]
