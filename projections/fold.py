"""Events to rows: the pure part of the projection (no I/O).

Rules, so that applying the log twice, or reading the jobs and job-events topics in any
interleaving, gives the same rows:

- Job-events (StatusChanged, LogAppended, Heartbeat, Completed) are skipped when their `seq`
  is at or below the highest applied for that (job, writer): a producer's retry wrote them
  twice. Events of one job on job-events are totally ordered, so this is deterministic.
  The highest seq of the job's current `writer` is its row's `last_seq`; `applied` need
  hold only the other writers' (projections.views stores no more).
- Once a Completed is applied, later job-events change nothing (they are still consumed).
- JobSubmitted fills only its own columns (name, version, submitted, submitter, labels,
  dispatch, the document with its secrets redacted, where it sits in the jobs
  topic), and only once; a row starts as NEW whichever
  event creates it, so it does not matter whether JobSubmitted is read before or after
  the job's first job-events. It is idempotent by construction, so it needs no seq check
  (its writer is not the runner's, and its seq would not be ordered against job-events
  anyway).
- `retry_due` is judged from the document and the end (exit status, attempt), whichever of
  JobSubmitted and Completed is applied last, so it too is the same in any interleaving.
- A JobSubmitted that retries another job (`retry_of`) also sets that job's `retried_by`,
  unless a later-submitted retry (by `at`, then job id) holds it already: the newest retry
  wins whatever order the jobs topic's partitions are read in.
- CancelRequested changes no row: the job's runner answers it with job-events.
- A log line is stored once per (job, line number): line numbers grow by one per job, so
  lines at or below the job's `last_line` are already stored.

- StageStarted and StepStarted add a RUNNING row (`job_stages`, `job_steps`); the matching
  StageFinished and StepFinished end it, and only a RUNNING row (read from `sections`, the
  open rows of the jobs in the batch) is ended, so a stray one changes nothing. A Completed
  ends the job's rows still RUNNING as FAILED: its runner is gone (a lost worker).

- StageDefined (the stages topic, `fold_stages`) adds a row per name and version; a name and
  version already defined keeps its first definition (stored stages are immutable).

A LogAppended can reach the fold whole (an Event) or as a `LogChunk`: only its envelope
facts, its lines staying in DuckDB (projections.views). Both give the same row; for a chunk
the fold says which lines to store as a threshold (`FoldResult.chunks`: store lines above it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobstream.events.documents.models import retry_limit
from jobstream.events.documents.secrets import redact_document
from jobstream.events.models import (
    CancelRequested,
    Completed,
    Event,
    Heartbeat,
    JobSubmitted,
    LogAppended,
    StageDefined,
    StageFinished,
    StageStarted,
    Status,
    StatusChanged,
    StepFinished,
    StepStarted,
)
from jobstream.projections.records import JobRecord, JobStageRow, JobStepRow, StageRecord

__all__ = [
    "AppliedKey",
    "FoldResult",
    "LineColumns",
    "LogChunk",
    "Placed",
    "Sections",
    "fold",
    "fold_stages",
    "jobs_touched",
]

SECTION_EVENTS = (StageStarted, StageFinished, StepStarted, StepFinished)
_Row = JobStageRow | JobStepRow
RUNNING = "RUNNING"

AppliedKey = tuple[str, str]
"""(job_id, writer)"""


@dataclass(slots=True)
class LineColumns:
    """New log lines as columns, ready for one `unnest` insert; `at` stays RFC 3339 text."""

    job_id: list[str] = field(default_factory=list)
    n: list[int] = field(default_factory=list)
    at: list[str] = field(default_factory=list)
    stream: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.n)


@dataclass(frozen=True, slots=True)
class LogChunk:
    """A valid LogAppended whose lines were left in DuckDB: its envelope and line facts.

    Its line numbers are strictly increasing (`first` lowest, `last` highest); `text_bytes`
    is the UTF-8 size of all its texts."""

    index: int
    """Where the record sits in the batch (the key of its staged lines)."""
    job_id: str
    writer: str
    seq: int
    count: int
    first: int
    last: int
    text_bytes: int


@dataclass(slots=True)
class Sections:
    """Rows of `job_stages` and `job_steps` by key: (job_id, stage) and (job_id, stage, step)."""

    stages: dict[tuple[str, int], JobStageRow] = field(default_factory=dict)
    steps: dict[tuple[str, int, int], JobStepRow] = field(default_factory=dict)


@dataclass(slots=True)
class FoldResult:
    jobs: dict[str, JobRecord]
    """Rows that changed, by job id (whole rows, for an upsert)."""
    applied: dict[AppliedKey, int]
    """(job_id, writer) pairs whose highest applied seq changed, with the new seq, and
    those whose writer stopped being the job's `writer` in the batch, with its last seq
    (then no longer in its row's `last_seq`)."""
    lines: LineColumns
    """Lines of the LogAppended events folded whole."""
    chunks: dict[int, int] = field(default_factory=dict)
    """Applied LogChunks: index -> threshold; their lines above the threshold are new."""
    partial: list[int] = field(default_factory=list)
    """Indexes (also in `chunks`) whose threshold falls inside their lines: the fold could
    not count their new lines and bytes, so `lines` and `bytes` of their jobs still lack
    them (the caller adds them; last_line is already right)."""
    sections: Sections = field(default_factory=Sections)
    """Stage and step rows that changed (whole rows, for an upsert)."""


Placed = tuple[int, int]
"""(partition, offset) of a record in its topic"""


def jobs_touched(events: Sequence[Event | LogChunk]) -> list[str]:
    """The ids of the jobs whose rows folding `events` may change (the caller reads them)."""
    ids = {e.job_id for e in events}
    ids.update(e.retry_of for e in events if isinstance(e, JobSubmitted) and e.retry_of)
    return list(ids)


def fold(
    rows: Mapping[str, JobRecord],
    applied: Mapping[AppliedKey, int],
    events: Iterable[Event | LogChunk],
    sections: Sections | None = None,
    submitted_at: Mapping[str, Placed] | None = None,
) -> FoldResult:
    """Apply `events` (in log order) to the current `rows`, `applied` seqs and RUNNING
    `sections` of the jobs they touch (`jobs_touched`); no input is modified. `applied`
    may leave out the seq of a job's current `writer`: its row's `last_seq` holds it.
    `submitted_at` gives, by job id, where the first JobSubmitted of that job among
    `events` sits in the jobs topic."""
    jobs: dict[str, JobRecord] = {}
    seqs: dict[AppliedKey, int] = {}
    lines = LineColumns()
    result = FoldResult(jobs=jobs, applied=seqs, lines=lines)
    folding = _SectionFold(sections or Sections(), result.sections)

    def row(job_id: str) -> JobRecord:
        current = jobs.get(job_id)
        if current is None:
            base = rows.get(job_id)
            current = base.model_copy() if base is not None else JobRecord(job_id=job_id)
            jobs[job_id] = current
        return current

    for event in events:
        if isinstance(event, CancelRequested):
            continue
        job = row(event.job_id)
        if isinstance(event, JobSubmitted):
            if job.submitted is None:
                _submitted(job, event, (submitted_at or {}).get(event.job_id))
                _judge_retry(job)
            if event.retry_of:
                _retried(row(event.retry_of), event)
            continue
        if job.completed:
            continue
        key = (event.job_id, event.writer)
        last = seqs.get(key, applied.get(key, 0))
        if event.writer == job.writer:
            last = max(last, job.last_seq)
        if event.seq <= last:
            continue
        seqs[key] = event.seq
        if isinstance(event, LogChunk):
            _chunk(job, event, result)
        elif isinstance(event, StatusChanged):
            _status(job, event, seqs)
        elif isinstance(event, LogAppended):
            _log(job, event, lines)
        elif isinstance(event, Heartbeat):
            job.worker = event.worker
            job.heartbeat_at = event.at
            job.lease_expires = event.at + timedelta(seconds=event.lease_seconds)
        elif isinstance(event, Completed):
            _take(job, event.writer, seqs)
            job.status = event.status
            job.success = event.success
            job.ended = event.ended_at
            job.exit_status = event.exit_status
            job.completed = True
            _judge_retry(job)
            folding.abandon(event.job_id, event.ended_at, job.last_line)
        elif isinstance(event, SECTION_EVENTS):
            folding.apply(event)
        if event.writer == job.writer:
            job.last_seq = max(job.last_seq, event.seq)
    return result


class _SectionFold:
    """Stage and step rows: `known` the RUNNING rows before the batch, `out` those changed."""

    def __init__(self, known: Sections, out: Sections) -> None:
        self.known = known
        self.out = out

    def apply(self, event: StageStarted | StageFinished | StepStarted | StepFinished) -> None:
        job_id = event.job_id
        if isinstance(event, StageStarted):
            self.out.stages[(job_id, event.stage)] = JobStageRow(
                job_id=job_id,
                stage=event.stage,
                name=event.name,
                status=RUNNING,
                started_at=event.at,
                first_line=event.first_line,
            )
        elif isinstance(event, StepStarted):
            self.out.steps[(job_id, event.stage, event.step)] = JobStepRow(
                job_id=job_id,
                stage=event.stage,
                step=event.step,
                action=event.action,
                title=event.title,
                status=RUNNING,
                started_at=event.at,
                first_line=event.first_line,
            )
        elif isinstance(event, StageFinished):
            stage = self._open(self.out.stages, self.known.stages, (job_id, event.stage))
            if stage is not None:
                self.out.stages[(job_id, event.stage)] = stage.model_copy(
                    update=_ended(event.status, event.at, event.duration_s, event.last_line)
                )
        else:
            key = (job_id, event.stage, event.step)
            step = self._open(self.out.steps, self.known.steps, key)
            if step is not None:
                update = _ended(event.status, event.at, event.duration_s, event.last_line)
                self.out.steps[key] = step.model_copy(
                    update={**update, "exit_code": event.exit_code}
                )

    @staticmethod
    def _open(out: Mapping[Any, _Row], known: Mapping[Any, _Row], key: Any) -> Any:
        """The row at `key` if it is RUNNING (changed in this batch, else as it was)."""
        row = out[key] if key in out else known.get(key)
        return row if row is not None and row.status == RUNNING else None

    def abandon(self, job_id: str, ended: datetime, last_line: int) -> None:
        """End the job's RUNNING rows FAILED at `ended`: the job ended without them."""
        for rows, known in (
            (self.out.stages, self.known.stages),
            (self.out.steps, self.known.steps),
        ):
            for key in {**known, **rows}:
                row = self._open(rows, known, key)
                if row is None or row.job_id != job_id:
                    continue
                seconds = max(0.0, (ended - row.started_at).total_seconds())
                rows[key] = row.model_copy(update=_ended("FAILED", ended, seconds, last_line))


def _ended(status: str, at: datetime, seconds: float, last_line: int) -> dict[str, object]:
    return {"status": status, "finished_at": at, "duration_s": seconds, "last_line": last_line}


def _submitted(job: JobRecord, event: JobSubmitted, where: Placed | None) -> None:
    job.name = event.name
    job.version = event.version
    job.submitted = event.at
    job.submitter = event.submitter
    job.organization = event.organization
    job.labels = dict(event.labels)
    job.dispatch = event.dispatch
    job.retry_of = event.retry_of
    job.attempt = event.attempt
    # Names and `***` only: views, answers and replays never hold a ciphertext (a retry
    # reads the sealed document back from the log, at the position kept beside it).
    job.document = redact_document(event.document)
    if where is not None:
        job.submitted_partition, job.submitted_offset = where


def _judge_retry(job: JobRecord) -> None:
    """`retry_due`, once both the job's document and its end are known, whichever of
    JobSubmitted and Completed comes last."""
    job.retry_due = (
        job.completed
        and job.status is Status.FAILED
        and job.exit_status is not None
        and job.attempt <= retry_limit(job.document, job.exit_status)
    )


def _retried(job: JobRecord, retry: JobSubmitted) -> None:
    held = (job.retried_at, job.retried_by or "") if job.retried_at is not None else None
    if held is None or (retry.at, retry.job_id) > held:
        job.retried_by = retry.job_id
        job.retried_at = retry.at


def _take(job: JobRecord, writer: str, seqs: dict[AppliedKey, int]) -> None:
    """`writer` now defines the status (a new attempt, or the lease keeper ending a job);
    the seq of the writer it replaces leaves the row for `seqs`."""
    if writer != job.writer:
        if job.writer is not None and job.last_seq:
            key = (job.job_id, job.writer)
            seqs[key] = max(seqs.get(key, 0), job.last_seq)
        job.writer = writer
        job.last_seq = 0


def _status(job: JobRecord, event: StatusChanged, seqs: dict[AppliedKey, int]) -> None:
    _take(job, event.writer, seqs)
    job.status = event.status
    if event.stage is not None:
        job.stage = event.stage
    job.reason = event.reason
    if event.status is Status.STARTED and job.started is None:
        job.started = event.at


def _log(job: JobRecord, event: LogAppended, out: LineColumns) -> None:
    for line in event.lines:
        if line.n <= job.last_line:
            continue
        job.last_line = line.n
        job.lines += 1
        job.bytes += len(line.text.encode())
        out.job_id.append(event.job_id)
        out.n.append(line.n)
        out.at.append(line.at)
        out.stream.append(line.stream)
        out.text.append(line.text)


def _chunk(job: JobRecord, chunk: LogChunk, out: FoldResult) -> None:
    """`_log` for lines left in DuckDB: increasing line numbers make the new ones a suffix."""
    threshold = job.last_line
    if chunk.last <= threshold:
        return
    out.chunks[chunk.index] = threshold
    job.last_line = chunk.last
    if chunk.first > threshold:
        job.lines += chunk.count
        job.bytes += chunk.text_bytes
    else:
        out.partial.append(chunk.index)


def fold_stages(
    defined: Iterable[tuple[str, str]], events: Iterable[tuple[int, StageDefined]]
) -> list[StageRecord]:
    """The new rows of `stages` for (offset, StageDefined) pairs in log order, given the
    (name, version) pairs the view holds already."""
    seen = set(defined)
    rows: list[StageRecord] = []
    for offset, event in events:
        key = (event.name, event.version)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            StageRecord(
                name=event.name,
                version=event.version,
                steps=event.steps,
                defined=event.at,
                writer=event.writer,
                offset=offset,
            )
        )
    return rows
