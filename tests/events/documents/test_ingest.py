"""Bare job documents from other Kafka clients on the jobs topic."""

from __future__ import annotations

import pytest

from jobstream.events.codec import encode
from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.secrets import Keyring, SecretBox
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import Record
from jobstream.events.models import JobSubmitted, StatusChanged

DOC = (
    b"name: from-kcat\nsequence: [{stage: s}]\n"
    b"stages: [{name: s, steps: [{action: log, message: hi}]}]\n"
)


def record(value: bytes, topic: str = "jobs", offset: int = 7, **headers: str) -> Record:
    return Record(topic, 1, offset, None, value, headers, 1_764_288_000_000)


def test_a_bare_yaml_document_reads_as_submitted_with_an_id_from_its_position() -> None:
    first = decode_record(record(DOC))
    assert isinstance(first, JobSubmitted)
    assert first.document["name"] == "from-kcat"
    assert (first.name, first.version, first.retry) == ("from-kcat", "1.0.0", 0)
    assert first.submitter == "kafka:jobs"
    assert decode_record(record(DOC)).job_id == first.job_id  # every consumer agrees
    assert decode_record(record(DOC, offset=8)).job_id != first.job_id


def test_a_bare_json_document_with_a_prefix_topic() -> None:
    doc = (
        b'{"name": "j", "sequence": [{"stage": "s"}],'
        b' "stages": [{"name": "s", "steps": [{"action": "log", "message": "x"}]}]}'
    )
    assert isinstance(decode_record(record(doc, topic="ci-jobs")), JobSubmitted)


def test_an_invalid_document_is_malformed_with_its_problems() -> None:
    with pytest.raises(MalformedEvent, match="required field 'name' is missing"):
        decode_record(record(b"sequence: [{stage: s}]\n"))


def test_documents_are_only_read_on_the_jobs_topic() -> None:
    with pytest.raises(MalformedEvent):
        decode_record(record(DOC, topic="job-events"))


def test_clear_secrets_are_refused_and_encrypted_ones_accepted(tmp_path) -> None:
    clear = DOC + b"secrets: {password: hunter2-long}\n"
    with pytest.raises(MalformedEvent, match="unencrypted secrets"):
        decode_record(record(clear))
    token = SecretBox(Keyring.generate()).encrypt_for_organization("hunter2-long", "default")
    encrypted = DOC + f"secrets: {{password: '{token}'}}\n".encode()
    assert isinstance(decode_record(record(encrypted)), JobSubmitted)


def test_events_still_decode_and_broken_events_stay_malformed() -> None:
    event = StatusChanged(job_id="j", writer="w", seq=1, status="STARTED")
    assert decode_record(record(encode(event))) == event
    with pytest.raises(MalformedEvent):
        decode_record(record(b'{"type": "StatusChanged", "job_id": "j"}'))
    with pytest.raises(MalformedEvent):
        decode_record(record(b"\xff\xfe garbage", type="JobSubmitted"))
