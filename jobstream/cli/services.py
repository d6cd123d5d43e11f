"""`worker`, `project`, `serve`, `replay`: the long-running parts, and rebuilding the views."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import pass_settings, run_async
from jobstream.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from jobstream.api import ApiServer
    from jobstream.settings import Settings

__all__ = ["project", "replay", "run_services", "serve", "worker"]

concurrency_option = click.option(
    "--concurrency", type=click.IntRange(1), help="Jobs run at once [default: 4]."
)
# How long `project` and `serve` wait for a short-lived command (`list`, `status`) that
# holds the views as they start; a `run` holding them for a whole job still refuses them.
VIEWS_WAIT = 30.0

lease_option = click.option(
    "--lease", type=float, help="Seconds a silent runner keeps its job [default: 30]."
)


log_format_option = click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="Logs on stderr: text, or one JSON object a line [env: JOBSTREAM_LOG_FORMAT; "
    "default: text].",
)


def api_options(fn: Callable[..., None]) -> Callable[..., None]:
    """The flags of the HTTP API that `project` and `serve` answer."""
    fn = click.option(
        "--auth/--no-auth",
        default=None,
        help="Require a bearer token on every request [env: JOBSTREAM_AUTH; default: off].",
    )(fn)
    fn = click.option(
        "--port",
        type=click.IntRange(0, 65535),
        help="API port; 0: any free one [env: JOBSTREAM_PORT; default: 8080].",
    )(fn)
    return click.option("--host", help="API address [env: JOBSTREAM_HOST; default: 127.0.0.1].")(fn)


@click.command()
@concurrency_option
@lease_option
@log_format_option
@click.option("--check", is_flag=True, help="Exit 0 if a worker on this data dir is alive, else 1.")
@pass_settings
def worker(settings: Settings, check: bool) -> None:
    """Run queued jobs until interrupted (running jobs are then cancelled)."""
    from jobstream.app import configure_logging, make_worker, stop_on_signals
    from jobstream.dispatcher.worker import check_health
    from jobstream.logs import open_log

    if check:
        alive = check_health(settings.health_dir)
        for h in alive:
            click.echo(
                f"{h.name}: pid {h.pid}, {h.running} running, {h.succeeded} succeeded, "
                f"{h.failed} failed, {h.cancelled} cancelled"
            )
        sys.exit(ExitCode.OK if alive else ExitCode.FAILED)
    configure_logging(settings)

    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_log(settings) as log:
            await make_worker(settings, log).run(stop)

    run_async(go())


async def run_services(
    settings: Settings,
    stop: asyncio.Event,
    *,
    with_worker: bool,
    on_ready: Callable[[ApiServer], None] | None = None,
) -> None:
    """Project the log into the views, end lost jobs, answer the HTTP API (and run jobs
    `with_worker`) until `stop` is set. `on_ready` is called once the API accepts."""
    from jobstream.api import ApiServer
    from jobstream.app import lease_keeper, make_worker, projection_host, secret_box
    from jobstream.logs import open_log

    async with (
        open_log(settings) as log,
        projection_host(settings, log, wait=VIEWS_WAIT) as host,
    ):
        api = ApiServer(settings, log, host, secret_box(settings))
        tasks = [host.run(stop), lease_keeper(settings, log, host).run(stop), api.run(stop)]
        if with_worker:
            tasks.append(make_worker(settings, log).run(stop))

        async def announce() -> None:
            await api.ready.wait()
            if on_ready is not None:
                on_ready(api)

        announcing = asyncio.create_task(announce())
        try:
            await asyncio.gather(*tasks)
        finally:
            announcing.cancel()


async def _project(settings: Settings, with_worker: bool) -> None:
    from jobstream.app import announce, stop_on_signals

    stop = asyncio.Event()
    stop_on_signals(stop)

    def ready(api: ApiServer) -> None:
        announce(settings, f"projecting into {settings.views_path}", views=settings.views_path)
        auth = "on" if settings.auth else "off"
        announce(settings, f"API on {api.url} (auth {auth})", url=api.url, auth=settings.auth)

    await run_services(settings, stop, with_worker=with_worker, on_ready=ready)


@click.command()
@lease_option
@log_format_option
@api_options
@pass_settings
def project(settings: Settings) -> None:
    """Project the log into the DuckDB views and answer the HTTP API until interrupted; end
    jobs whose runner is lost."""
    from jobstream.app import configure_logging

    configure_logging(settings)
    run_async(_project(settings, with_worker=False))


@click.command()
@concurrency_option
@lease_option
@log_format_option
@api_options
@pass_settings
def serve(settings: Settings) -> None:
    """Worker, projector and HTTP API in one process."""
    from jobstream.app import configure_logging

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
    """Rebuild the views from offset 0 of the log, then swap them in atomically.

    Refused (exit 3) while another process holds the views: stop it first."""
    from jobstream.logs import open_log
    from jobstream.projections import DuckDBViews
    from jobstream.projections.replay import replay, swap, verify

    started = time.monotonic()

    def progress(events: int, seconds: float) -> None:
        rate = events / seconds if seconds else 0
        click.echo(f"\rreplaying: {events:,} events, {rate:,.0f} events/s", nl=False, err=True)

    async def go():
        async with open_log(settings) as log:
            # Held while the replay runs, so no `run` or `project` takes the views meanwhile
            # only to have them compared with, or swapped from, under it.
            # Without the layout check: rebuilding views an older jobstream wrote is the
            # way out of ViewsOutdated.
            live = await asyncio.to_thread(
                partial(DuckDBViews.open, settings.views_path, check_layout=False)
            )
            try:
                return await replay(
                    log, settings.topics.views, settings.views_path, progress=progress
                )
            finally:
                await asyncio.to_thread(live.close)

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
        sys.exit(ExitCode.FAILED if differences else ExitCode.OK)
    swap(result.path, settings.views_path)
    click.echo(f"views replaced: {settings.views_path}")
