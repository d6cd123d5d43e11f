"""Cursor paging of the job list: stable while newer jobs keep arriving, unlike an offset.

Jobs are listed by submission time, newest first, ties by job id. A cursor holds the
submission time of the last job sent and how many jobs with exactly that time were sent,
so the next page is "submitted at or before that time, skipping those". Jobs without a
submission time yet (their JobSubmitted not applied) sort last and fall back to a position.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ValidationError

from jobstream.projections.records import JobRecord
from jobstream.service.base import InvalidCursor

__all__ = ["Cursor", "next_cursor"]

# DuckDB keeps microseconds: "before t + 1 µs" is "at or before t".
_TICK = timedelta(microseconds=1)
_NOT_OURS = "not a cursor this API handed out"
# Positions count in the views' 64 bits.
_MAX = 2**62


class Cursor(BaseModel, frozen=True):
    submitted: datetime | None
    skip: int
    position: int
    """Absolute position of the next job, used only among jobs with no submission time."""

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            cursor = cls.model_validate_json(raw)
        except (binascii.Error, ValueError, ValidationError):
            raise InvalidCursor(_NOT_OURS) from None
        if not (0 <= cursor.skip <= _MAX and 0 <= cursor.position <= _MAX):
            raise InvalidCursor(_NOT_OURS)
        if cursor.submitted is not None:
            # Only times the views hold (UTC, within datetime's range one tick either way).
            try:
                (cursor.submitted + _TICK).astimezone(UTC) - _TICK
            except (OverflowError, ValueError):
                raise InvalidCursor(_NOT_OURS) from None
            if cursor.submitted.tzinfo is None:
                raise InvalidCursor(_NOT_OURS)
        return cursor

    def until(self, until: datetime | None) -> datetime | None:
        """The exclusive upper bound of submission time for the next page."""
        if self.submitted is None:
            return until
        bound = self.submitted + _TICK
        return bound if until is None else min(until, bound)

    @property
    def offset(self) -> int:
        return self.position if self.submitted is None else self.skip


def next_cursor(previous: Cursor | None, offset: int, page: list[JobRecord]) -> Cursor:
    """The cursor after `page`, which started at absolute position `offset`."""
    last = page[-1].submitted
    ties = sum(1 for job in page if job.submitted == last)
    if previous is not None and previous.submitted == last and last is not None:
        ties += previous.skip  # the whole page shared the time the previous cursor held
    return Cursor(submitted=last, skip=ties, position=offset + len(page))
