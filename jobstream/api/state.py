"""What the routes work with, handed to `create_app` by the process that holds the views."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from jobstream.api.tokens import TokenStore
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.base import EventLog
from jobstream.projections.host import ViewsHost
from jobstream.settings import Settings

__all__ = ["Services", "ServicesDep"]


@dataclass
class Services:
    settings: Settings
    log: EventLog
    host: ViewsHost
    box: SecretBox
    tokens: TokenStore
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the process stops: open log streams end instead of holding shutdown up."""


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
