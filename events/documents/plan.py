"""The sequence plan: which stage runs after which, by JOB-FORMAT.md's sequence rules.

The plan's positions are the sequence's entries in order, then every stage that an
`on_success` or `on_failure` names but the sequence does not list, appended once each in the
order they are first named. A name stands for its first position, so a stage listed twice
runs from its first entry when a handler names it. After the stage at a position:

- it succeeded: the stage its `on_success` names, else the next entry of the sequence
  (none after the last entry; an appended handler stage never falls through);
- it failed: the stage its `on_failure` names, else nothing: the job ends.

This is Cyclid 0.4's wiring (`app/cyclid/job/job.rb`): a handler stage that the sequence
also lists is an ordinary entry and falls through to the entry after it, so
`[test(on_failure: failure), failure(only_if: ...), build(on_failure: failure)]` goes from
`failure` to `build` and may loop. Such loops are allowed (the validator warns); Cyclid ran
them without end, jobstream's runner stops after `run_bound` stage runs.

The validator looks for handler loops in this graph and the executor walks it, so both read
the rules from here. An empty handler name names nothing (the validator reports it as an
undefined stage).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from jobstream.events.documents.models import JobDocument

__all__ = ["MAX_STAGE_RUNS", "SequencePlan"]

MAX_STAGE_RUNS = 100
"""Stage runs after which a job whose handlers loop ends FAILED (a run or a skip counts)."""


@dataclass(frozen=True, slots=True)
class SequencePlan:
    stages: tuple[str | None, ...]
    """The stage at each position: the sequence's entries (None where an unvalidated entry
    names no stage), then the appended handler stages."""
    listed: int
    """How many positions are the sequence's own entries."""
    _on_success: tuple[int | None, ...]
    _on_failure: tuple[int | None, ...]

    @classmethod
    def of(cls, links: Iterable[tuple[str | None, str | None, str | None]]) -> SequencePlan:
        """The plan of sequence entries given as (stage, on_success, on_failure)."""
        entries = [(stage, success or None, failure or None) for stage, success, failure in links]
        stages: list[str | None] = [stage for stage, _, _ in entries]
        position: dict[str, int] = {}
        for at, stage in enumerate(stages):
            if stage is not None:
                position.setdefault(stage, at)
        for _, success, failure in entries:
            for handler in (success, failure):
                if handler is not None and handler not in position:
                    position[handler] = len(stages)
                    stages.append(handler)

        def target(name: str | None) -> int | None:
            return None if name is None else position[name]

        return cls(
            stages=tuple(stages),
            listed=len(entries),
            _on_success=tuple(target(success) for _, success, _ in entries),
            _on_failure=tuple(target(failure) for _, _, failure in entries),
        )

    @classmethod
    def from_document(cls, document: JobDocument) -> SequencePlan:
        return cls.of((e.stage, e.on_success, e.on_failure) for e in document.sequence)

    @classmethod
    def from_raw(cls, sequence: Sequence[Any]) -> SequencePlan:
        """The plan of a sequence that has not been validated (a list of anything): a value
        that is not a string names no stage."""

        def name(entry: Any, field: str) -> str | None:
            value = entry.get(field) if isinstance(entry, dict) else None
            return value if isinstance(value, str) else None

        return cls.of(
            (name(e, "stage"), name(e, "on_success"), name(e, "on_failure")) for e in sequence
        )

    @property
    def run_bound(self) -> int:
        """How many stage runs a job may make. Without a loop each position runs at most
        once, so only a looping job reaches it, however long its sequence."""
        return max(MAX_STAGE_RUNS, len(self.stages))

    @property
    def handlers(self) -> tuple[str, ...]:
        """The handler stages appended after the sequence, in order."""
        return tuple(stage for stage in self.stages[self.listed :] if stage is not None)

    def handler(self, index: int, success: bool) -> int | None:
        """The position the `on_success` (or `on_failure`) of the entry at `index` names."""
        if index >= self.listed:
            return None
        return (self._on_success if success else self._on_failure)[index]

    def next(self, index: int, success: bool) -> int | None:
        """The position that runs after the one at `index` succeeded or failed; None: the
        job ends."""
        target = self.handler(index, success)
        if target is not None or not success:
            return target
        return index + 1 if index + 1 < self.listed else None
