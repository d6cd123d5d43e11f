"""Dispatching jobs: the Notifier that turns runner calls into events, the local dispatcher,
the Worker that consumes the jobs topic, cancel requests and the lease keeper."""

from jobstream.dispatcher.attempt import run_attempt
from jobstream.dispatcher.cancels import CancelWatcher
from jobstream.dispatcher.leases import LeaseKeeper
from jobstream.dispatcher.local import LocalDispatcher, LocalRun
from jobstream.dispatcher.notifier import EventNotifier, TeeNotifier
from jobstream.dispatcher.submit import (
    new_job_id,
    request_cancel,
    resolve_submission,
    submission,
    submit,
)
from jobstream.dispatcher.worker import WORKER_GROUP, Worker, WorkerHealth, check_health

__all__ = [
    "WORKER_GROUP",
    "CancelWatcher",
    "EventNotifier",
    "LeaseKeeper",
    "LocalDispatcher",
    "LocalRun",
    "TeeNotifier",
    "Worker",
    "WorkerHealth",
    "check_health",
    "new_job_id",
    "request_cancel",
    "resolve_submission",
    "run_attempt",
    "submission",
    "submit",
]
