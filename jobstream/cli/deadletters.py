"""`dead-letters`: what the views and the callbacks set aside, and why."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import jobs_service, pass_settings, run_async
from jobstream.console import format_time

if TYPE_CHECKING:
    from jobstream.service import DeadLetterEntry
    from jobstream.settings import Settings

__all__ = ["dead_letters"]

_HEADER = ("TIME", "CONSUMER", "TOPIC", "PARTITION", "OFFSET", "REASON")


@click.command("dead-letters")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_settings
def dead_letters(settings: Settings, as_json: bool) -> None:
    """Records the views and the callbacks passed over, oldest first: which consumer, where
    in the log, and why. The records themselves are never shown: one may hold a secret."""

    async def go() -> list[DeadLetterEntry]:
        async with jobs_service(settings) as jobs:
            return await jobs.dead_letters()

    letters = run_async(go())
    if as_json:
        click.echo(json.dumps([d.model_dump(mode="json") for d in letters], indent=2))
        return
    if not letters:
        click.echo("no dead letters")
        return
    rows = [
        (
            format_time(d.time),
            d.consumer,
            d.topic,
            str(d.partition),
            str(d.offset),
            " ".join(d.reason.split()),
        )
        for d in letters
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(_HEADER[:-1])]
    for row in [_HEADER, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))
