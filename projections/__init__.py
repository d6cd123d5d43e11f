"""The JobRecord and LogBuffer views in DuckDB: fold, store, host, replay, queries."""

from jobstream.projections.fold import FoldResult, LineColumns
from jobstream.projections.host import ProjectionHost
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
from jobstream.projections.views import DuckDBViews

__all__ = [
    "DeadLetter",
    "DuckDBViews",
    "FoldResult",
    "JobRecord",
    "LineColumns",
    "LogLineRow",
    "ProjectionHost",
    "ReplayResult",
    "Stats",
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
