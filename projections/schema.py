"""The DuckDB tables of the views.

`job_records`: one row per job.

| column | type | meaning |
|---|---|---|
| job_id | VARCHAR PK | the job's id (the log key) |
| name | VARCHAR | the document's `name` (NULL until JobSubmitted is read) |
| version | VARCHAR | the document's `version` |
| status | VARCHAR | current status name (NEW, WAITING, STARTED, FAILING, SUCCEEDED, ...) |
| status_code | INTEGER | the same status as Cyclid's code (0, 1, 2, 3, 10, 11, 12) |
| submitted | TIMESTAMPTZ | when JobSubmitted was written |
| started | TIMESTAMPTZ | the `at` of the first StatusChanged to STARTED |
| ended | TIMESTAMPTZ | Completed's `ended_at` |
| success | BOOLEAN | Completed's `success` (NULL while running) |
| stage | VARCHAR | the stage named by the last StatusChanged that named one |
| reason | VARCHAR | the reason given by the last StatusChanged (why it failed or ended) |
| submitter | VARCHAR | who submitted the job |
| labels | MAP(VARCHAR, VARCHAR) | the job's labels |
| dispatch | VARCHAR | `queue` (a worker runs it) or `local` (the submitting process runs it) |
| lines | BIGINT | log lines stored in `log_lines` for the job |
| bytes | BIGINT | UTF-8 bytes of the text of those lines |
| last_line | BIGINT | highest line number stored; a line at or below it is not stored again |
| writer | VARCHAR | the writer (runner attempt or lease keeper) whose events set the status |
| worker | VARCHAR | the worker that last sent a Heartbeat |
| heartbeat_at | TIMESTAMPTZ | the `at` of the last Heartbeat |
| lease_expires | TIMESTAMPTZ | `heartbeat_at` plus its `lease_seconds` |
| completed | BOOLEAN | a Completed was applied: later events change nothing |
| last_seq | BIGINT | highest `seq` applied from `writer` |
| retry_of | VARCHAR | the job this one retries (a lost attempt run again), if any |
| attempt | INTEGER | 1 for a submitted job, 2.. for its retries |
| document | JSON | the submitted document, secret values encrypted |

`log_lines`: one row per log line: job_id, n (line number from 1), at (TIMESTAMPTZ, when the
runner read it), stream (stdout / stderr / system), text.

`applied`: (job_id, writer) PK, seq: the highest `seq` applied from that writer for that job
(job-events only); an event at or below it is a producer's retry and is skipped.

`checkpoints`: (projection, topic, partition) PK, position: the next offset the projection
reads in that partition. Written in the same transaction as the rows.

`dead_letters`: topic, partition, offset, error, value (the raw bytes), recorded_at: records
that are not a valid event; kept so the projection can move past them.
"""

from __future__ import annotations

__all__ = ["DDL", "JOB_COLUMNS", "TABLES"]

JOB_COLUMNS: tuple[str, ...] = (
    "job_id",
    "name",
    "version",
    "status",
    "status_code",
    "submitted",
    "started",
    "ended",
    "success",
    "stage",
    "reason",
    "submitter",
    "labels",
    "dispatch",
    "lines",
    "bytes",
    "last_line",
    "writer",
    "worker",
    "heartbeat_at",
    "lease_expires",
    "completed",
    "last_seq",
    "retry_of",
    "attempt",
    "document",
)

# "at" is quoted throughout: DuckDB reserves it (AT TIME ZONE).
DDL = """
CREATE TABLE IF NOT EXISTS job_records (
    job_id VARCHAR PRIMARY KEY,
    name VARCHAR,
    version VARCHAR,
    status VARCHAR NOT NULL,
    status_code INTEGER NOT NULL,
    submitted TIMESTAMPTZ,
    started TIMESTAMPTZ,
    ended TIMESTAMPTZ,
    success BOOLEAN,
    stage VARCHAR,
    reason VARCHAR,
    submitter VARCHAR,
    labels MAP(VARCHAR, VARCHAR),
    dispatch VARCHAR,
    lines BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    last_line BIGINT NOT NULL,
    writer VARCHAR,
    worker VARCHAR,
    heartbeat_at TIMESTAMPTZ,
    lease_expires TIMESTAMPTZ,
    completed BOOLEAN NOT NULL,
    last_seq BIGINT NOT NULL,
    retry_of VARCHAR,
    attempt INTEGER NOT NULL DEFAULT 1,
    document JSON
);
-- No index: DuckDB 2.0 answers `job_id = ? AND n BETWEEN ? AND ?` with a filtered scan
-- whether or not an ART index exists (measured: the index is not used for the range, and
-- costs 7-20% on insert and 12% in size), and the scan reads only job_id and n until a row
-- matches.
CREATE TABLE IF NOT EXISTS log_lines (
    job_id VARCHAR NOT NULL,
    n BIGINT NOT NULL,
    "at" TIMESTAMPTZ NOT NULL,
    stream VARCHAR NOT NULL,
    text VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS applied (
    job_id VARCHAR NOT NULL,
    writer VARCHAR NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (job_id, writer)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    projection VARCHAR NOT NULL,
    topic VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (projection, topic, "partition")
);
CREATE TABLE IF NOT EXISTS dead_letters (
    topic VARCHAR NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" BIGINT NOT NULL,
    error VARCHAR NOT NULL,
    value BLOB NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
"""

TABLES: dict[str, tuple[str, ...]] = {
    "job_records": JOB_COLUMNS,
    "log_lines": ("job_id", "n", '"at"', "stream", "text"),
    "applied": ("job_id", "writer", "seq"),
    "checkpoints": ("projection", "topic", '"partition"', "position"),
    # recorded_at is when this database saw the record, so it differs between two builds.
    "dead_letters": ("topic", '"partition"', '"offset"', "error", "value"),
}
"""Every view table with the columns two builds of the same log must agree on."""
