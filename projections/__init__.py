"""The JobRecord, LogBuffer and stored-stage views in DuckDB (fold, store, host, replay,
queries), and the one projection runner that feeds any projection from any EventLog."""

from jobstream.projections.fold import FoldResult, LineColumns
from jobstream.projections.host import ViewsHost, ViewsProjection
from jobstream.projections.queries import (
    count_jobs,
    dead_letters,
    expired_leases,
    get_job,
    get_stage,
    list_jobs,
    list_stages,
    log_range,
    resolve_job_id,
    stats,
)
from jobstream.projections.records import DeadLetter, JobRecord, LogLineRow, StageRecord, Stats
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
    "StageRecord",
    "Stats",
    "ViewsHost",
    "ViewsProjection",
    "count_jobs",
    "dead_letters",
    "expired_leases",
    "get_job",
    "get_stage",
    "list_jobs",
    "list_stages",
    "log_range",
    "replay",
    "replay_path",
    "resolve_job_id",
    "stats",
    "swap",
    "verify",
]
