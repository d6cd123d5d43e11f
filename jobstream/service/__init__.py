"""The jobs service: one interface (`JobsService`) to submit, list, read, follow, cancel and
wait for jobs, with two implementations: `LocalJobs` on the log and the views of this
process (the HTTP API, and the command line when no server runs), and `RemoteJobs`
through the HTTP API (the command line when a server runs).

Names are imported from their modules on first use (jobstream.events.lazy), so a command
asking a server (`RemoteJobs`) does not load DuckDB and the dispatcher `LocalJobs` needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobstream.events.lazy import lazy_exports

if TYPE_CHECKING:
    from jobstream.service.base import (
        CancelOutcome,
        DeadLetterEntry,
        InvalidCursor,
        JobList,
        JobsService,
        JobSteps,
        LogPage,
        RetryOutcome,
        StageRun,
        StepRun,
    )
    from jobstream.service.local import LocalJobs, Views
    from jobstream.service.remote import ApiRequestError, RemoteJobs

__all__ = [
    "ApiRequestError",
    "CancelOutcome",
    "DeadLetterEntry",
    "InvalidCursor",
    "JobList",
    "JobSteps",
    "JobsService",
    "LocalJobs",
    "LogPage",
    "RemoteJobs",
    "RetryOutcome",
    "StageRun",
    "StepRun",
    "Views",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "base": [
            "CancelOutcome",
            "DeadLetterEntry",
            "InvalidCursor",
            "JobList",
            "JobSteps",
            "JobsService",
            "LogPage",
            "RetryOutcome",
            "StageRun",
            "StepRun",
        ],
        "local": ["LocalJobs", "Views"],
        "remote": ["ApiRequestError", "RemoteJobs"],
    },
)
