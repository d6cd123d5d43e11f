"""Dispatching jobs: the Notifier that turns runner calls into events, the local dispatcher,
the Worker that consumes the jobs topic, cancel requests and the lease keeper."""

from dispatcher.attempt import run_attempt
from dispatcher.cancels import CancelWatcher
from dispatcher.leases import LeaseKeeper
from dispatcher.local import LocalDispatcher, LocalRun
from dispatcher.notifier import EventNotifier, TeeNotifier
from dispatcher.submit import new_job_id, request_cancel, submission, submit
from dispatcher.worker import WORKER_GROUP, Worker, WorkerHealth, check_health

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
    "run_attempt",
    "submission",
    "submit",
]
