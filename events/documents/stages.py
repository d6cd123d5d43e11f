"""Stored, versioned stages: the stages topic read back, and a job's sequence resolved
against it at submission.

Cyclid's rule (`app/cyclid/job/job.rb`): a sequence entry naming a stage the job defines
uses the job's stage (its `version` is ignored); otherwise, with a `version`, the stored
stage of exactly that name and version, and without one the stage of that name defined
most recently (not the highest version). A handler (`on_success`, `on_failure`) naming a
stage no entry lists resolves as an entry without a version. A name listed by several
entries is one stage, and the last entry decides which version.

The resolved stages are copied into the job's document before it is written to the log,
so neither the runner nor a replay ever looks at the stages topic again: a stage defined
later changes no submitted job.

The topic is keyed by stage name, so every version of one name sits in one partition, in
the order it was defined. A name and version is defined once (`define_stage` refuses a
second); should two processes race past that check, the first record in the log is the
stage and the second is ignored, by this module and by the views alike.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from jobstream.events.documents.models import Stage
from jobstream.events.errors import StageExists, UnresolvedStage
from jobstream.events.log.base import EventLog, Message, Record, TopicPartition
from jobstream.events.models import StageDefined

__all__ = [
    "StageCatalog",
    "decode_stage",
    "define_stage",
    "names_stored_stages",
    "resolve_stages",
    "stage_message",
]

logger = logging.getLogger(__name__)

_HANDLERS = ("on_success", "on_failure")


def decode_stage(record: Record) -> StageDefined:
    """The StageDefined a stages-topic record holds (pydantic's ValidationError if none)."""
    return StageDefined.model_validate_json(record.value)


def stage_message(event: StageDefined) -> Message:
    return Message(event.model_dump_json().encode(), key=event.name, headers={"type": event.type})


class StageCatalog:
    """Every stage defined on the stages topic, read from its beginning.

    `refresh` reads what was appended since the last read, so a long-lived reader (a
    worker) keeps one catalog; a submitter reads a new one (`read`): the topic is small."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[StageDefined]] = {}
        self._positions: dict[TopicPartition, int] = {}

    @classmethod
    async def read(cls, log: EventLog, topic: str) -> StageCatalog:
        catalog = cls()
        await catalog.refresh(log, topic)
        return catalog

    def add(self, event: StageDefined) -> bool:
        """Take a definition read from the log; False for a name and version already
        defined (the first definition stays)."""
        versions = self._by_name.setdefault(event.name, [])
        if any(v.version == event.version for v in versions):
            return False
        versions.append(event)
        return True

    def find(
        self, name: str, version: str | None = None, *, at: datetime | None = None
    ) -> StageDefined | None:
        """The stage `name` with exactly `version`, or (None) the one defined last;
        `at` ignores definitions written after it."""
        versions = [v for v in self._by_name.get(name, []) if at is None or v.at <= at]
        if version is None:
            return versions[-1] if versions else None
        return next((v for v in versions if v.version == version), None)

    def versions(self, name: str) -> list[StageDefined]:
        """Every version of `name`, in the order they were defined."""
        return list(self._by_name.get(name, []))

    def __iter__(self) -> Iterator[StageDefined]:
        for versions in self._by_name.values():
            yield from versions

    async def refresh(self, log: EventLog, topic: str) -> None:
        """Read the records appended to `topic` since the last read, up to its end now."""
        ends = await log.ends([topic])
        if all(self._positions.get(tp, 0) >= end for tp, end in ends.items()):
            return
        async with log.consumer([topic], group=None, start="earliest") as consumer:
            for tp, position in self._positions.items():
                await consumer.seek(tp, position)
            while any(consumer.position(tp) < end for tp, end in ends.items()):
                for record in await consumer.getmany(1000, timeout=1.0):
                    self._positions[record.tp] = record.offset + 1
                    try:
                        self.add(decode_stage(record))
                    except ValidationError as exc:
                        # The views dead-letter it; a reader of stages just passes it by.
                        logger.warning(
                            "skipping %s[%d]@%d: not a StageDefined: %s",
                            record.topic,
                            record.partition,
                            record.offset,
                            exc.errors()[0]["msg"],
                        )


async def define_stage(
    log: EventLog, topic: str, stage: Stage, *, writer: str | None = None
) -> Record:
    """Append a validated stage (its `version` set, as `load_stage` gives it) to the
    stages topic and return its record; StageExists if that name and version is defined
    already."""
    assert stage.version is not None, "a stored stage has a version"
    catalog = await StageCatalog.read(log, topic)
    if catalog.find(stage.name, stage.version) is not None:
        raise StageExists(stage.name, stage.version)
    event = StageDefined(
        writer=writer or f"stage-{uuid.uuid4().hex[:12]}",
        name=stage.name,
        version=stage.version,
        steps=[step.model_dump(mode="json", exclude_defaults=True) for step in stage.steps],
    )
    (record,) = await log.append(topic, [stage_message(event)])
    return record


def names_stored_stages(document: Mapping[str, Any]) -> bool:
    """Does the (validated JSON) document name a stage it does not define?"""
    return next(_wanted(document), None) is not None


def resolve_stages(
    document: Mapping[str, Any], catalog: StageCatalog, *, at: datetime | None = None
) -> dict[str, Any]:
    """The (validated JSON) document with every stored stage it names appended to its
    `stages`, as Cyclid resolves them (the module's docstring); UnresolvedStage, naming
    the first that is not stored, if one is missing. `at`: only stages defined by then."""
    chosen: dict[str, StageDefined] = {}
    for path, name, version in _wanted(document):
        found = catalog.find(name, version, at=at)
        if found is None:
            raise UnresolvedStage(name, version, path)
        chosen[name] = found
    if not chosen:
        return dict(document)
    stored = [{"name": s.name, "version": s.version, "steps": s.steps} for s in chosen.values()]
    return {**document, "stages": [*document.get("stages", []), *stored]}


def _wanted(document: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    """(path, name, version) of each stage the document names and does not define: the
    entries first, in order (the last of a name decides), then the handlers."""
    defined = {s.get("name") for s in document.get("stages", [])}
    sequence = list(enumerate(document.get("sequence", [])))
    for i, entry in sequence:
        name = entry.get("stage")
        if name not in defined:
            yield f"sequence[{i}].stage", name, entry.get("version")
    listed = {entry.get("stage") for _, entry in sequence}
    for i, entry in sequence:
        for field in _HANDLERS:
            name = entry.get(field)
            if name and name not in defined and name not in listed:
                yield f"sequence[{i}].{field}", name, None
