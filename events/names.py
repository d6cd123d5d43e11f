"""Topic names. A configurable prefix lets several installations share one Kafka cluster."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topics"]


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = ""

    @property
    def jobs(self) -> str:
        """Job documents (JobSubmitted) and requests about jobs (CancelRequested)."""
        return f"{self.prefix}jobs"

    @property
    def events(self) -> str:
        """What happens to jobs: StatusChanged, LogAppended, Heartbeat, Completed."""
        return f"{self.prefix}job-events"

    @property
    def all(self) -> list[str]:
        return [self.jobs, self.events]

    def group(self, name: str) -> str:
        """A consumer group name: installations with different prefixes share no group."""
        return f"{self.prefix}{name}"
