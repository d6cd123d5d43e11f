"""The JobRecord, LogBuffer and stored-stage views in DuckDB (fold, store, host, replay,
queries), and the one projection runner that feeds any projection from any EventLog.

Names are imported from their modules on first use (jobstream.events.lazy): a command
that only prints records (`jobstream.projections.records`) must not pay for DuckDB.
`jobstream.projections.replay` is the module (the function is `replay.replay`): importing
a submodule binds its name in the package, so a function of that name could not stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobstream.events.lazy import lazy_exports

if TYPE_CHECKING:
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
    from jobstream.projections.replay import ReplayResult, replay_path, swap, verify
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
    "replay_path",
    "resolve_job_id",
    "stats",
    "swap",
    "verify",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fold": ["FoldResult", "LineColumns"],
        "host": ["ViewsHost", "ViewsProjection"],
        "queries": [
            "count_jobs",
            "dead_letters",
            "expired_leases",
            "get_job",
            "get_stage",
            "list_jobs",
            "list_stages",
            "log_range",
            "resolve_job_id",
            "stats",
        ],
        "records": ["DeadLetter", "JobRecord", "LogLineRow", "StageRecord", "Stats"],
        "replay": ["ReplayResult", "replay_path", "swap", "verify"],
        "runner": ["Projection", "ProjectionRunner"],
        "views": ["DuckDBViews"],
    },
)
