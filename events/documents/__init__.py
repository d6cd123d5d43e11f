"""The job document language: Cyclid's job documents as models, parsed with their source
locations, validated (every problem at once), planned (which stage runs after which), with
secrets encrypted for the log.

Importing this package loads yaml and cryptography; `jobstream.events` itself does not.
"""

from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.plan import SequencePlan
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.documents.validation import (
    Problem,
    ValidatedDocument,
    check_document,
    load_document,
)

__all__ = [
    "JobDocument",
    "Problem",
    "SecretBox",
    "SequencePlan",
    "ValidatedDocument",
    "check_document",
    "decode_record",
    "load_document",
]
