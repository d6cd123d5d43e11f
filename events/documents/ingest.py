"""Reading records of the jobs topic that another Kafka client wrote.

The jobs topic is a public interface. Besides jobstream's own events, a producer may send a
bare job document (JSON or YAML, no key, no headers), as `kcat -P` does. Such a record is
read as a JobSubmitted whose job id derives from the record's position, so every consumer
(workers, projections, callbacks) gives it the same id without writing anything back. A
record that is neither an event nor a valid document is malformed, with the reason; so is a
document whose secrets are not encrypted (`jobstream secret encrypt`).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

from jobstream.events.codec import decode
from jobstream.events.documents.models import LOST
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.documents.stages import StageCatalog, resolve_stages
from jobstream.events.documents.validation import load_document
from jobstream.events.errors import DocumentError, MalformedEvent, UnresolvedStage
from jobstream.events.log.base import Record
from jobstream.events.models import Event, JobSubmitted

__all__ = ["INGEST_WRITER", "decode_record", "is_jobs_topic", "is_stages_topic"]

INGEST_WRITER = "ingest"


def is_jobs_topic(topic: str) -> bool:
    """Topic names are `<prefix>jobs`, `<prefix>job-events` and `<prefix>stages`
    (events.names)."""
    return topic.endswith("jobs")


def is_stages_topic(topic: str) -> bool:
    return topic.endswith("stages")


def decode_record(record: Record, stages: StageCatalog | None = None) -> Event:
    """The event a record holds; on the jobs topic, a bare job document counts as submitted.

    `stages`, read up to now, resolves the stored stages a bare document names, as they
    were when the record was written (what a submission through jobstream would have
    done then); one that does not resolve is left for the runner to fail, naming it."""
    try:
        return decode(record.value)
    except MalformedEvent as not_event:
        if not is_jobs_topic(record.topic) or "type" in record.headers:
            raise
        return _submitted(record, not_event, stages)


def _submitted(
    record: Record, not_event: MalformedEvent, stages: StageCatalog | None
) -> JobSubmitted:
    where = f"{record.topic}[{record.partition}]@{record.offset}"
    if _looks_like_event(record.value):
        raise not_event
    try:
        validated = load_document(record.value, where)
    except DocumentError as exc:
        problems = "; ".join(str(p) for p in exc.problems if p.severity == "error")
        raise MalformedEvent(f"neither an event nor a valid job document: {problems}") from None
    document = validated.document
    clear = [k for k, v in document.secrets.items() if not SecretBox.is_encrypted(v)]
    clear += [
        f"sources[{i}].token"
        for i, s in enumerate(document.sources)
        if s.token and not SecretBox.is_encrypted(s.token)
    ]
    if clear:
        # Views and API answers would show them; the runner would have to trust the topic.
        raise MalformedEvent(
            f"job document with unencrypted secrets ({', '.join(clear)}): encrypt them "
            "with `jobstream secret encrypt` before sending the document"
        )
    at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
    raw = document.model_dump(mode="json", exclude_defaults=True)
    if stages is not None:
        with contextlib.suppress(UnresolvedStage):
            raw = resolve_stages(raw, stages, at=at)
    return JobSubmitted(
        job_id=uuid.uuid5(uuid.NAMESPACE_URL, f"jobstream:{where}").hex,
        writer=INGEST_WRITER,
        seq=1,
        at=at,
        name=document.name,
        version=document.version,
        document=raw,
        submitter=f"kafka:{record.topic}",
        labels=document.labels,
        retry=document.retries(LOST),
    )


def _looks_like_event(value: bytes) -> bool:
    # A JSON object naming its type is an event with a problem, not a document.
    return value.lstrip()[:1] == b"{" and b'"type"' in value[:200]
