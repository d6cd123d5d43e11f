"""`worker`, `project`, `serve`, `replay`: the long-running parts, and rebuilding the views."""

from __future__ import annotations

import asyncio
import sys
import time

import click

from dispatcher.worker import check_health
from jobstream.app import (
    configure_logging,
    lease_keeper,
    make_worker,
    open_log,
    projection_host,
    stop_on_signals,
)
from jobstream.cli.common import EXIT_FAILED, pass_settings, run_async
from jobstream.settings import Settings
from projections.replay import replay as replay_views
from projections.replay import swap, verify

__all__ = ["project", "replay", "serve", "worker"]

concurrency_option = click.option(
    "--concurrency", type=click.IntRange(1), help="Jobs run at once [default: 4]."
)
lease_option = click.option(
    "--lease", type=float, help="Seconds a silent runner keeps its job [default: 30]."
)


@click.command()
@concurrency_option
@lease_option
@click.option("--check", is_flag=True, help="Exit 0 if a worker on this data dir is alive, else 1.")
@pass_settings
def worker(settings: Settings, check: bool) -> None:
    """Run queued jobs until interrupted (running jobs are then cancelled)."""
    if check:
        alive = check_health(settings.health_dir)
        for h in alive:
            click.echo(
                f"{h.name}: pid {h.pid}, {h.running} running, {h.succeeded} succeeded, "
                f"{h.failed} failed, {h.cancelled} cancelled"
            )
        sys.exit(0 if alive else 1)
    configure_logging(settings)

    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_log(settings) as log:
            await make_worker(settings, log).run(stop)

    run_async(go())


async def _project(settings: Settings, with_worker: bool) -> None:
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with open_log(settings) as log, projection_host(settings, log) as host:
        tasks = [host.run(stop), lease_keeper(settings, log, host).run(stop)]
        if with_worker:
            tasks.append(make_worker(settings, log).run(stop))
        click.echo(f"jobstream: projecting into {settings.views_path}", err=True)
        await asyncio.gather(*tasks)


@click.command()
@lease_option
@pass_settings
def project(settings: Settings) -> None:
    """Project the log into the DuckDB views until interrupted; end jobs whose runner is lost."""
    configure_logging(settings)
    run_async(_project(settings, with_worker=False))


@click.command()
@concurrency_option
@lease_option
@pass_settings
def serve(settings: Settings) -> None:
    """Worker and projector in one process."""
    configure_logging(settings)
    run_async(_project(settings, with_worker=True))


@click.command()
@click.option(
    "--verify",
    "check",
    is_flag=True,
    help="Compare the rebuilt views with the live ones instead of replacing them.",
)
@pass_settings
def replay(settings: Settings, check: bool) -> None:
    """Rebuild the views from offset 0 of the log, then swap them in atomically."""
    started = time.monotonic()

    def progress(events: int, seconds: float) -> None:
        rate = events / seconds if seconds else 0
        click.echo(f"\rreplaying: {events:,} events, {rate:,.0f} events/s", nl=False, err=True)

    async def go():
        async with open_log(settings) as log:
            return await replay_views(
                log, settings.topics.all, settings.views_path, progress=progress
            )

    result = run_async(go())
    click.echo("", err=True)
    click.echo(
        f"replayed {result.events:,} events in {time.monotonic() - started:.2f}s "
        f"({result.events_per_s:,.0f} events/s)"
    )
    if check:
        differences = verify(settings.views_path, result.path)
        result.path.unlink(missing_ok=True)
        for line in differences:
            click.echo(line)
        click.echo("views differ" if differences else "views match the log")
        sys.exit(EXIT_FAILED if differences else 0)
    swap(result.path, settings.views_path)
    click.echo(f"views replaced: {settings.views_path}")
