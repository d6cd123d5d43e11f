"""`callbacks run` and `callbacks list`: callbacks as consumers of the log."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import pass_settings, run_async
from jobstream.cli.services import log_format_option

if TYPE_CHECKING:
    from jobstream.callbacks import HostRecord
    from jobstream.events.log.base import Start, TopicPartition
    from jobstream.settings import Settings

# jobstream.events.log.base.Start, written out so that building the command line imports
# no log (tests/jobstream/test_cli_startup.py checks they agree).
START_CHOICES = ["committed", "earliest", "latest"]

__all__ = ["callbacks"]

# A host records a sign of life this often; `list` calls it running within a few of them.
_BEAT = 2.0
_ALIVE_WITHIN = 4 * _BEAT


def store_path(settings: Settings) -> Path:
    return settings.callbacks_path


@click.group()
def callbacks() -> None:
    """Callbacks: each runs as its own reader of the log, its position in its store."""


@callbacks.command("run")
@click.argument("callback")
@click.option(
    "--from",
    "start",
    type=click.Choice(START_CHOICES),
    default="committed",
    show_default=True,
    help="Where a new callback starts; committed resumes (from the earliest when new).",
)
@click.option(
    "--name", help="Name its position and deliveries are kept under [default: its own name]."
)
@click.option("--callback-attempts", type=click.IntRange(1), help="Calls of a hook per event.")
@click.option("--callback-backoff", type=float, help="Seconds before the first retry.")
@click.option("--webhook-url", help="Where the webhook callback POSTs.")
@click.option("--github-api", help="GitHub API base URL (GitHub Enterprise Server).")
@click.option("--public-url", help="Base URL linked from commit statuses.")
@log_format_option
@pass_settings
def run(settings: Settings, callback: str, start: Start, name: str | None) -> None:
    """Run CALLBACK (an installed name or module:Class) until interrupted.

    A module:Class is looked for in the current directory too, as `python -m` would."""
    from jobstream.app import announce, configure_logging, stop_on_signals
    from jobstream.callbacks import CallbackHost, CallbackStore, check_name, load
    from jobstream.events.errors import JobstreamError
    from jobstream.logs import open_log

    configure_logging(settings)
    if os.getcwd() not in sys.path:
        # The console script's sys.path holds its own bin directory, not the current one.
        sys.path.insert(0, os.getcwd())
    try:
        default_name, cls = load(callback)
        name = check_name(name or default_name)
        options = settings.section("callbacks", default_name, cls.settings_model)
        instance = cls.from_settings(dict(options))
    except JobstreamError as exc:
        raise click.UsageError(str(exc)) from None

    async def go() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_log(settings) as log, CallbackStore(store_path(settings)) as store:
            host = CallbackHost(
                log,
                settings.topics,
                instance,
                store,
                name=name,
                spec=callback,
                start=start,
                attempts=settings.callback_attempts,
                backoff=settings.callback_backoff,
                max_backoff=settings.callback_max_backoff,
                timeout=settings.callback_timeout,
                hold=settings.callback_hold,
                beat=_BEAT,
            )
            announce(settings, f"callback {name} from {start}", callback=name, start=start)
            await host.run(stop)

    run_async(go())


@callbacks.command("list")
@pass_settings
def list_command(settings: Settings) -> None:
    """Installed callbacks, and the position and lag of every callback that has run here."""
    from jobstream.callbacks import CallbackStore, installed
    from jobstream.logs import open_log

    click.echo("installed:")
    for item in installed():
        click.echo(f"  {item.name:<12} {item.spec:<40} {item.source}")
    path = store_path(settings)
    if not path.exists():
        click.echo("consumers: none has run on this data directory")
        return

    async def go() -> list[str]:
        async with open_log(settings) as log, CallbackStore(path) as store:
            lines = []
            for host in await store.hosts():
                counts = await store.counts(host.callback)
                positions = await store.positions(host.callback)
                ends = await log.ends(host.topics)
                lines.extend(_describe(host, counts, positions, ends))
            return lines

    lines = run_async(go())
    click.echo("consumers:" if lines else "consumers: none has run on this data directory")
    if lines:
        header = ("name", "state", "pid", "delivered", "dead", "topic", "position", "end", "lag")
        click.echo("  " + _row(header))
    for line in lines:
        click.echo("  " + line)


def _describe(
    host: HostRecord,
    counts: dict[str, int],
    positions: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
) -> list[str]:
    """One row per topic; lag is the ends of the log minus the stored positions."""
    state = "running" if host.running(_ALIVE_WITHIN) else "stopped"
    if host.stopped is None and state == "stopped":
        state = "gone"  # killed, or crashed: resumes from its stored position
    rows = []
    for i, topic in enumerate(host.topics):
        own_ends = {tp: at for tp, at in ends.items() if tp.topic == topic}
        position = sum(at for tp, at in positions.items() if tp.topic == topic)
        end = sum(own_ends.values())
        lag = sum(max(0, at - positions.get(tp, 0)) for tp, at in own_ends.items())
        own = (
            (host.callback, state, str(host.pid), str(counts.get("delivered", 0)))
            if i == 0
            else ("", "", "", "")
        )
        dead = str(counts.get("dead", 0)) if i == 0 else ""
        rows.append(_row((*own, dead, topic, str(position), str(end), str(lag))))
    return rows


def _row(cells: tuple[str, ...]) -> str:
    widths = (12, 8, 8, 10, 6, 12, 10, 10, 8)
    return " ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip()
