"""The composition root: builds the log, runner, views and services from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

from jobstream.dispatcher.leases import LeaseKeeper
from jobstream.dispatcher.worker import Worker
from jobstream.events.documents.secrets import Keyring, SecretBox, load_keyring
from jobstream.events.errors import BuilderUnavailable, ViewsBusy
from jobstream.events.log.base import EventLog
from jobstream.logs import data_dir
from jobstream.projections import DuckDBViews, ViewsHost, queries
from jobstream.runners import Runner
from jobstream.runners.builders import Builder, builder_class
from jobstream.runners.workspace import clean_workspaces, sweep_scripts
from jobstream.settings import Settings

__all__ = [
    "keyring",
    "lease_keeper",
    "make_builder",
    "make_runner",
    "make_worker",
    "projection_host",
    "secret_box",
    "stop_on_signals",
]


log = logging.getLogger(__name__)

LIVE_REST = 4.0
"""A live projection's pace (ProjectionRunner `rest`): it applies at most a fifth of the
time, so in `serve` it leaves the worker the core it shares with it (bench/serve.py)."""


LIVE_THREADS = 1
"""DuckDB's threads for a live projection, once caught up: its statements are too small to
gain from a second one, whose wake-ups cost about 1-2 ms of CPU a job in `serve`
(bench/serve.py). A catch-up keeps DuckDB's default (`replay` has its own,
projections.replay.REPLAY_THREADS)."""


def keyring(settings: Settings) -> Keyring:
    """The installation's keys (docs/secrets.md): the environment's, else the key file's."""
    environment = settings.secret_key.get_secret_value() if settings.secret_key else None
    return load_keyring(
        settings.secret_key_file, environment=environment, legacy=settings.legacy_key_path
    )


def secret_box(settings: Settings) -> SecretBox:
    return SecretBox(keyring(settings), reload=functools.partial(keyring, settings))


def make_builder(settings: Settings) -> Builder:
    """The builder the settings name, checked to work here: BuilderUnavailable, saying how
    to choose another, rather than ever running jobs unsandboxed by surprise."""
    cls = builder_class(settings.builder)
    builder = cls(hidden=(settings.data_dir, *settings.key_files), network=settings.job_network)
    try:
        builder.check()
    except BuilderUnavailable as error:
        raise BuilderUnavailable(
            f"the {settings.builder} builder cannot run jobs here: {error}. Jobs would run "
            "unconfined, with the data directory and its keys in their reach; to accept "
            "that, choose it: --builder host (JOBSTREAM_BUILDER=host, or builder = "
            '"host" in jobstream.toml). See docs/sandbox.md.'
        ) from None
    if not builder.isolated:
        _warn_unconfined(builder.name)
    return builder


@functools.cache
def _warn_unconfined(name: str) -> None:
    log.warning(
        "builder %r: jobs run unconfined as this user; they can read the data directory, "
        "its keys and every other job's workspace (docs/sandbox.md)",
        name,
    )


def make_runner(settings: Settings) -> Runner:
    """The runner, after clearing what a crashed worker left: scripts in workspaces and
    the workspaces the retention does not keep (jobs running elsewhere are left alone)."""
    builder = make_builder(settings)
    data_dir(settings)
    sweep_scripts(settings.workspaces)
    clean_workspaces(settings.workspaces, settings.retention)
    return Runner(
        # Absolute, so %{workspace} and HOME name it from any directory.
        workspace_root=settings.workspaces.absolute(),
        secret_box=secret_box(settings),
        builder=builder,
        retention=settings.retention,
        kill_grace=settings.kill_grace,
        actions=settings.action_settings(),
    )


def make_worker(settings: Settings, log: EventLog) -> Worker:
    return Worker(
        log,
        settings.topics,
        make_runner(settings),
        concurrency=settings.concurrency,
        lease=settings.lease,
        health_dir=settings.health_dir,
    )


@contextlib.asynccontextmanager
async def projection_host(
    settings: Settings, log: EventLog, *, wait: float = 0.0
) -> AsyncIterator[ViewsHost]:
    """The views, opened for writing by this process, with their host: kept live by a faust
    app on Kafka, by the runner's own loop otherwise.

    ViewsBusy if another process holds them for longer than `wait` seconds: a long-running
    `project` waits out a `list` or `status` that took them a moment before it started."""
    data_dir(settings)  # on Kafka, nothing else has made it yet
    views = await _open_views(settings.views_path, wait)
    live = None
    if settings.broker:  # `log` is open_log's: a KafkaLog
        # faust takes a third of a second to import: only Kafka commands import it.
        from jobstream.projections.faust_host import FaustFeed, default_app_id

        app_id = default_app_id(settings.views_path, settings.topics.views)
        live = FaustFeed(log, app_id=app_id, data_dir=settings.data_dir / "faust")
    host = ViewsHost(
        log, views, settings.topics.views, rest=LIVE_REST, live=live, live_threads=LIVE_THREADS
    )
    try:
        yield host
    finally:
        await host.close()
        await asyncio.to_thread(views.close)


async def _open_views(path: Path, wait: float) -> DuckDBViews:
    deadline = asyncio.get_running_loop().time() + wait
    told = False
    while True:
        try:
            return await asyncio.to_thread(DuckDBViews.open, path)
        except ViewsBusy as busy:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            if not told:
                log.warning("waiting up to %.0fs for %s to release the views", wait, busy.holder)
                told = True
            await asyncio.sleep(0.1)


def lease_keeper(settings: Settings, log: EventLog, host: ViewsHost) -> LeaseKeeper:
    async def expired(at: datetime) -> list:
        return await host.query(queries.expired_leases, at)

    async def settled() -> bool:
        # Heartbeats in views behind the log look old: judge once they hold what it held.
        return await host.reached(await log.ends(host.runner.topics), timeout=settings.lease)

    async def failed() -> list:
        # Views behind the log may not show a retry made already: its id derives from the
        # failed job's, so submitting it again is recorded once.
        return await host.query(queries.failed_unretried)

    return LeaseKeeper(
        log,
        settings.topics,
        expired,
        failed=failed,
        secrets=lambda: secret_box(settings),
        interval=min(1.0, settings.lease / 3),
        settled=settled,
    )


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM ask the running services to stop cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def announce(settings: Settings, message: str, **fields: object) -> None:
    """A line on stderr for whoever watches a service start, whatever the log level: as
    it reads, or in the JSON log format one log line (INFO, logger `jobstream`) holding
    `fields`, so a JSON stderr stays JSON throughout."""
    if settings.log_format != "json":
        print(f"jobstream: {message}", file=sys.stderr, flush=True)
        return
    from jobstream.jsonlog import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "jobstream", "levelno": logging.INFO, "levelname": "INFO", "msg": message}
    )
    record.__dict__.update(fields)
    print(JsonFormatter().format(record), file=sys.stderr, flush=True)


def configure_logging(settings: Settings) -> None:
    """Logs of the long-running commands, on stderr: text, or one JSON object a line
    (`log_format`, jobstream.jsonlog). uvicorn's loggers pass theirs here too (ApiServer)."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        from jobstream.jsonlog import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
