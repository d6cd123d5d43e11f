"""jobstream's exceptions, under one root.

JobstreamError
├── DocumentError          a job document has errors (carries every problem)
├── MalformedEvent         bytes on a topic that are not a valid event
├── LogError               the event log failed
│   └── NotAssigned        a consumer committed a partition it no longer owns
├── SecretError            a secret could not be encrypted or decrypted
├── JobNotFound            no job id starts with the given prefix
├── AmbiguousJobId         more than one job id starts with the given prefix
└── ViewsBusy              another process holds the DuckDB views
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousJobId",
    "DocumentError",
    "JobNotFound",
    "JobstreamError",
    "LogError",
    "MalformedEvent",
    "NotAssigned",
    "SecretError",
    "ViewsBusy",
]


class JobstreamError(Exception):
    """Root of every error jobstream raises on purpose."""


class DocumentError(JobstreamError):
    """A job document was rejected; `problems` lists every one found, with its path."""

    def __init__(self, problems: list[Any], source: str = "document") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class MalformedEvent(JobstreamError):
    """Bytes read from a topic that do not decode to a known event."""


class LogError(JobstreamError):
    """The event log could not do what was asked."""


class NotAssigned(LogError):
    """A consumer tried to commit a partition that is no longer assigned to it."""


class SecretError(JobstreamError):
    """A secret value could not be encrypted or decrypted with this installation's key."""


class ViewsBusy(JobstreamError):
    """The DuckDB views are held by another process (DuckDB allows one writer per file)."""

    def __init__(self, path: str, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"the views in {path} are held by {holder}; "
            "stop it, or ask it through its HTTP API (--server)"
        )


class JobNotFound(JobstreamError):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(f"no job id starts with {prefix!r}")


class AmbiguousJobId(JobstreamError):
    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        super().__init__(f"job id prefix {prefix!r} matches {len(matches)} jobs: {shown}")
