"""The JobRecord and LogBuffer views in DuckDB (fold, store, host, replay, queries), and the
one projection runner that feeds any projection from any EventLog."""

from jobstream.projections.fold import FoldResult, LineColumns
from jobstream.projections.host import ViewsHost, ViewsProjection
from jobstream.projections.queries import (
    count_jobs,
    dead_letters,
    expired_leases,
    get_job,
    list_jobs,
    log_range,
    resolve_job_id,
    stats,
)
from jobstream.projections.records import DeadLetter, JobRecord, LogLineRow, Stats
from jobstream.projections.replay import ReplayResult, replay, replay_path, swap, verify
from jobstream.projections.runner import Projection, ProjectionRunner
from jobstream.projections.views import DuckDBViews

__all__ = [
    "DeadLetter",
    "DuckDBViews",
    "FoldResult",
    "JobRecord",
    "LineColumns",
    "LogLineRow",
    "Projection",
    "ProjectionRunner",
    "ReplayResult",
    "Stats",
    "ViewsHost",
    "ViewsProjection",
    "count_jobs",
    "dead_letters",
    "expired_leases",
    "get_job",
    "list_jobs",
    "log_range",
    "replay",
    "replay_path",
    "resolve_job_id",
    "stats",
    "swap",
    "verify",
]
