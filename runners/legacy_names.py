"""The built-in actions' settings from before each action had its section, in a module of
their own: the settings read them on every start, and importing `runners.actions` would
load every action's base and the document language with them."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FLAT_NAMES"]

# flat name -> (action, key in its section).
FLAT_NAMES: Mapping[str, tuple[str, str]] = {
    "slack_webhook_url": ("slack", "webhook_url"),
    "smtp_host": ("email", "host"),
    "smtp_port": ("email", "port"),
    "smtp_from": ("email", "sender"),
    "smtp_user": ("email", "user"),
    "smtp_password": ("email", "password"),
    "smtp_starttls": ("email", "starttls"),
}
