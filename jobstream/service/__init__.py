"""The jobs service: one interface (`JobsService`) to submit, list, read, follow, cancel and
wait for jobs, with two implementations: `LocalJobs` on the log and the views of this
process (the HTTP API, and the command line when no server runs), and `RemoteJobs`
through the HTTP API (the command line when a server runs)."""

from jobstream.service.base import CancelOutcome, InvalidCursor, JobList, JobsService, LogPage
from jobstream.service.local import LocalJobs, Views
from jobstream.service.remote import ApiRequestError, RemoteJobs

__all__ = [
    "ApiRequestError",
    "CancelOutcome",
    "InvalidCursor",
    "JobList",
    "JobsService",
    "LocalJobs",
    "LogPage",
    "RemoteJobs",
    "Views",
]
