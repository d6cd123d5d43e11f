"""`token create / revoke / list`: the bearer tokens of the HTTP API (setting `auth`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jobstream.cli.common import output_option, pass_settings
from jobstream.console import OutputFormat, format_time, render

if TYPE_CHECKING:
    from jobstream.settings import Settings

# jobstream.api.tokens is imported inside each command: jobstream.api's package imports
# FastAPI. A TokenError (a name taken, or unknown) exits 2 through the group.

__all__ = ["token"]


@click.group()
def token() -> None:
    """API tokens: stored hashed in the data directory, scoped read or write."""


@token.command()
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(["read", "write"]),
    default="read",
    show_default=True,
    help="write: submit and cancel too.",
)
@pass_settings
def create(settings: Settings, name: str, scope: str) -> None:
    """Create a token for NAME and print it: it is shown this once only."""
    from jobstream.api.tokens import TokenStore

    secret = TokenStore(settings.tokens_path).create(name, scope)  # type: ignore[arg-type]
    click.echo(secret)


@token.command()
@click.argument("name")
@pass_settings
def revoke(settings: Settings, name: str) -> None:
    """Revoke NAME's token: requests carrying it get 401 from now on."""
    from jobstream.api.tokens import TokenStore

    TokenStore(settings.tokens_path).revoke(name)
    click.echo(f"revoked {name}")


@token.command("list")
@click.option("--all", "everything", is_flag=True, help="Revoked tokens too.")
@output_option
@pass_settings
def list_tokens(settings: Settings, everything: bool, output: OutputFormat) -> None:
    """Names, scopes and dates of the tokens (never the tokens themselves)."""
    from jobstream.api.tokens import TokenStore

    tokens = TokenStore(settings.tokens_path).list(include_revoked=everything)
    if output != "table":
        click.echo(render([t.model_dump(mode="json") for t in tokens], output))
        return
    if not tokens:
        click.echo("no tokens")
    for t in tokens:
        revoked = f"  revoked {format_time(t.revoked)}" if t.revoked else ""
        click.echo(f"{t.name:<20} {t.scope:<5}  created {format_time(t.created)}{revoked}")
