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
    def stages(self) -> str:
        """Stored, versioned stage definitions (StageDefined), keyed by stage name."""
        return f"{self.prefix}stages"

    @property
    def all(self) -> list[str]:
        """The topics about jobs (what callbacks read)."""
        return [self.jobs, self.events]

    @property
    def views(self) -> list[str]:
        """What the DuckDB views are projected from: the job topics and the stages."""
        return [*self.all, self.stages]

    def group(self, name: str) -> str:
        """A consumer group name: installations with different prefixes share no group."""
        return f"{self.prefix}{name}"
