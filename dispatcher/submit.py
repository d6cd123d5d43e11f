"""Submitting a job: a validated document becomes a JobSubmitted event on the jobs topic,
with the stored stages it names resolved into it (`resolve_submission`, on every path).

A retry (asked for by a user, or automatic: dispatcher.leases) is the job's own JobSubmitted,
read back from the log where the views say it sits (`read_submission`), submitted again as a
new job (`retry_submission`) that names the job it retries."""

from __future__ import annotations

import uuid
from typing import Literal

from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.models import LOST, JobDocument
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.documents.stages import StageCatalog, names_stored_stages, resolve_stages
from jobstream.events.errors import LogError
from jobstream.events.log.base import EventLog, Record, TopicPartition, to_message
from jobstream.events.models import (
    DEFAULT_ORGANIZATION,
    CancelRequested,
    EventBase,
    JobSubmitted,
    now,
)
from jobstream.events.names import Topics

__all__ = [
    "new_job_id",
    "read_submission",
    "request_cancel",
    "resolve_submission",
    "retry_submission",
    "submission",
    "submit",
]


def new_job_id() -> str:
    return uuid.uuid4().hex


def submission(
    document: JobDocument,
    box: SecretBox,
    *,
    labels: dict[str, str] | None = None,
    submitter: str = "anonymous",
    dispatch: Literal["queue", "local"] = "queue",
    job_id: str | None = None,
    organization: str | None = None,
) -> JobSubmitted:
    """The event for a validated document, with every clear secret value sealed to the
    new job (values sealed in advance for an organisation are kept as they are).

    The job's organisation is `organization` (the submission's), else the document's own
    `organization` key, else `default`; the runner reads it from the document."""
    organization = organization or document.organization or DEFAULT_ORGANIZATION
    job_id = job_id or new_job_id()
    raw = box.encrypt_document(document.model_dump(mode="json", exclude_defaults=True), job_id)
    raw["organization"] = organization
    return JobSubmitted(
        organization=organization,
        job_id=job_id,
        writer=f"submit-{uuid.uuid4().hex[:12]}",
        seq=1,
        name=document.name,
        version=document.version,
        document=raw,
        submitter=submitter,
        labels={**document.labels, **(labels or {})},
        dispatch=dispatch,
        retry=document.retries(LOST),
    )


async def read_submission(
    log: EventLog, topics: Topics, job_id: str, partition: int, offset: int
) -> JobSubmitted:
    """The JobSubmitted of `job_id`, read from the jobs topic at (partition, offset), where
    the views recorded it (`JobRecord.submitted_partition` / `submitted_offset`): the
    document exactly as it was written, its secrets sealed to the job. LogError when the
    record there is not that job's submission."""
    record = await log.read_at(TopicPartition(topics.jobs, partition), offset)
    event = decode_record(record)
    if not isinstance(event, JobSubmitted) or event.job_id != job_id:
        raise LogError(f"{topics.jobs}[{partition}]@{offset} is not the submission of {job_id}")
    return event


def retry_submission(
    original: JobSubmitted,
    box: SecretBox | None,
    *,
    job_id: str | None = None,
    writer: str | None = None,
    submitter: str | None = None,
) -> JobSubmitted:
    """The next attempt of the job `original` submitted: the same document, labels and
    organisation, as job `job_id` (default: a new id) with `retry_of` naming the original
    and `attempt` one more. Values sealed to the original job are sealed again to the new
    one (`SecretBox.reseal_document`); without a `box` they are kept, which only a retry
    whose id derives from the original's (`retry_job_id`) can open. `submitter` (default:
    the original's) is who asks."""
    job_id = job_id or new_job_id()
    document = original.document
    if box is not None:
        document = box.reseal_document(
            document, from_job=original.job_id, to_job=job_id, organization=original.organization
        )
    return original.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "job_id": job_id,
            "writer": writer or f"submit-{uuid.uuid4().hex[:12]}",
            "seq": 1,
            "at": now(),
            "document": document,
            "submitter": submitter or original.submitter,
            "dispatch": "queue",
            "retry_of": original.job_id,
            "attempt": original.attempt + 1,
        }
    )


async def _append(log: EventLog, topic: str, event: EventBase) -> Record:
    (record,) = await log.append(topic, [to_message(event)])
    return record


async def resolve_submission(log: EventLog, topics: Topics, event: JobSubmitted) -> JobSubmitted:
    """`event` with the stored stages its document names copied into the document, read
    from the stages topic itself (a submitter need not hold the views); UnresolvedStage,
    naming the stage, when one is not stored. The event itself when it names none."""
    if not names_stored_stages(event.document):
        return event
    catalog = await StageCatalog.read(log, topics.stages)
    return event.model_copy(update={"document": resolve_stages(event.document, catalog)})


async def submit(log: EventLog, topics: Topics, event: JobSubmitted) -> Record:
    """Resolve the event's stored stages (`resolve_submission`) and append it."""
    return await _append(log, topics.jobs, await resolve_submission(log, topics, event))


async def request_cancel(
    log: EventLog, topics: Topics, job_id: str, requested_by: str = "anonymous"
) -> Record:
    """Ask whoever runs `job_id` to stop it; the request travels on the jobs topic."""
    event = CancelRequested(
        job_id=job_id,
        writer=f"cancel-{uuid.uuid4().hex[:12]}",
        seq=1,
        requested_by=requested_by,
    )
    return await _append(log, topics.jobs, event)
