"""Shell completion of job ids: the JOB argument of every command that takes one.

Completion runs on every Tab, so it must answer at once and never get in the way: it asks
the running server when there is one, else reads the views file read-only (never catching
up with the log, never taking the writer's lock), and completes nothing when the views are
busy or anything else goes wrong. A traceback or a wait would land in the user's shell.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from jobstream.settings import Settings

__all__ = ["complete_job_ids", "job_argument"]

# Newest jobs offered (a prefix narrows them); completion is for jobs one just ran.
CANDIDATES = 200
# Seconds a server may take to answer before completion gives up (a Tab must not hang).
SERVER_TIMEOUT = 2.0


def complete_job_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The ids of the newest jobs starting with `incomplete`, each with its name."""
    from jobstream.cli.common import load_settings

    try:
        settings = load_settings(ctx)
        found = _from_server(settings, incomplete)
        if found is None:
            found = _from_views(settings, incomplete)
    except Exception:  # whatever it is, the shell must get no traceback
        return []
    return [CompletionItem(job_id, help=name) for job_id, name in found]


def _from_server(settings: Settings, prefix: str) -> list[tuple[str, str]] | None:
    from jobstream.cli.common import remote_jobs, run_async

    remote = remote_jobs(settings, timeout=SERVER_TIMEOUT)
    if remote is None:
        return None

    async def go() -> list[tuple[str, str]]:
        async with remote:
            page = await remote.list(limit=CANDIDATES)
        return [(r.job_id, r.name or "") for r in page.jobs if r.job_id.startswith(prefix)]

    return run_async(go())


def _from_views(settings: Settings, prefix: str) -> list[tuple[str, str]]:
    import duckdb

    if not settings.views_path.exists():
        return []
    # Read-only: no write lock and no file created. A process holding the views makes the
    # open fail at once (DuckDB's file lock), and then there is nothing to complete.
    try:
        conn = duckdb.connect(str(settings.views_path), read_only=True)
    except duckdb.Error:
        return []
    with contextlib.closing(conn):
        rows = conn.execute(
            "SELECT job_id, coalesce(name, '') FROM job_records"
            " WHERE starts_with(job_id, $p) ORDER BY submitted DESC NULLS LAST LIMIT $n",
            {"p": prefix, "n": CANDIDATES},
        ).fetchall()
    return [(str(job_id), str(name)) for job_id, name in rows]


def job_argument(fn: Any) -> Any:
    """The JOB argument (an id or a unique prefix), completed from the jobs there are."""
    return click.argument("job", shell_complete=complete_job_ids)(fn)
