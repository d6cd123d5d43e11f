"""The Notifier: the only way a Runner reports what happens.

A Runner never writes to a database or a log itself. The process that creates a Runner
hands it a Notifier (`dispatcher.notifier.EventNotifier` turns each call into an event);
the hook names are Cyclid's.
"""

from __future__ import annotations

from typing import Protocol

from jobstream.events.models import LogChunk, Status

__all__ = ["Notifier"]


class Notifier(Protocol):
    async def status_changed(
        self,
        status: Status,
        previous: Status | None,
        *,
        stage: str | None = None,
        reason: str | None = None,
    ) -> None:
        """The job moved from `previous` to `status`."""

    async def log_write(self, chunk: LogChunk) -> None:
        """A chunk of consecutive, already masked log lines (read it as a sequence of
        `LogLine`s, or through `rows`, `pairs` or `texts` to build none)."""

    async def completion(
        self, success: bool, status: Status, lines: int, bytes: int, exit_status: int | None = None
    ) -> None:
        """The job ended; sent after the last `log_write`. `bytes` counts UTF-8 text bytes;
        `exit_status` is the exit code of the step whose failure failed the job, if one did."""
