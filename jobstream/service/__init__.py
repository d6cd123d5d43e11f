"""The jobs service: one interface (`JobsService`) to submit, list, read, follow, cancel and
wait for jobs, with two implementations: `LocalJobs` on the log and the views of this
process (the HTTP API, and the command line when no server runs), and `RemoteJobs`
through the HTTP API (the command line when a server runs)."""

from jobstream.service.base import (
    CancelOutcome,
    DeadLetterEntry,
    InvalidCursor,
    JobList,
    JobsService,
    JobSteps,
    LogPage,
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
    "StageRun",
    "StepRun",
    "Views",
]
