"""`token create / revoke / list`: the bearer tokens of the HTTP API (setting `auth`)."""

from __future__ import annotations

import sys

import click

from jobstream.api.tokens import TokenError, TokenStore
from jobstream.cli.common import EXIT_FAILED, pass_settings
from jobstream.settings import Settings

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
    try:
        secret = TokenStore(settings.tokens_path).create(name, scope)  # type: ignore[arg-type]
    except TokenError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(secret)


@token.command()
@click.argument("name")
@pass_settings
def revoke(settings: Settings, name: str) -> None:
    """Revoke NAME's token: requests carrying it get 401 from now on."""
    try:
        TokenStore(settings.tokens_path).revoke(name)
    except TokenError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"revoked {name}")


@token.command("list")
@click.option("--all", "everything", is_flag=True, help="Revoked tokens too.")
@pass_settings
def list_tokens(settings: Settings, everything: bool) -> None:
    """Names, scopes and dates of the tokens (never the tokens themselves)."""
    tokens = TokenStore(settings.tokens_path).list(include_revoked=everything)
    if not tokens:
        click.echo("no tokens")
    for t in tokens:
        revoked = f"  revoked {t.revoked:%Y-%m-%d %H:%M}" if t.revoked else ""
        click.echo(f"{t.name:<20} {t.scope:<5}  created {t.created:%Y-%m-%d %H:%M}{revoked}")
