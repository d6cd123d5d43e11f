"""The job document language: Cyclid's job documents as models, parsed with their source
locations, validated (every problem at once), planned (which stage runs after which), with
secrets encrypted for the log and stored stages resolved into it.

Names are imported from their modules on first use (jobstream.events.lazy): a caller that
needs only the action registry (the settings) does not load yaml and cryptography.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobstream.events.lazy import lazy_exports

if TYPE_CHECKING:
    from jobstream.events.documents.ingest import decode_record
    from jobstream.events.documents.models import JobDocument
    from jobstream.events.documents.plan import SequencePlan
    from jobstream.events.documents.secrets import SecretBox
    from jobstream.events.documents.stages import StageCatalog, define_stage, resolve_stages
    from jobstream.events.documents.validation import (
        Problem,
        ValidatedDocument,
        ValidatedStage,
        check_document,
        check_stage,
        load_document,
        load_stage,
    )

__all__ = [
    "JobDocument",
    "Problem",
    "SecretBox",
    "SequencePlan",
    "StageCatalog",
    "ValidatedDocument",
    "ValidatedStage",
    "check_document",
    "check_stage",
    "decode_record",
    "define_stage",
    "load_document",
    "load_stage",
    "resolve_stages",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ingest": ["decode_record"],
        "models": ["JobDocument"],
        "plan": ["SequencePlan"],
        "secrets": ["SecretBox"],
        "stages": ["StageCatalog", "define_stage", "resolve_stages"],
        "validation": [
            "Problem",
            "ValidatedDocument",
            "ValidatedStage",
            "check_document",
            "check_stage",
            "load_document",
            "load_stage",
        ],
    },
)
