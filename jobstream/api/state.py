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
from jobstream.service import LocalJobs
from jobstream.settings import Settings

__all__ = ["Services", "ServicesDep"]

# Waiting this long for the views to show a new job makes `submit` then `show` work;
# after it the job is in the log all the same and the answer is still 201.
_VISIBLE_WITHIN = 5.0


@dataclass
class Services:
    settings: Settings
    log: EventLog
    host: ViewsHost
    box: SecretBox
    tokens: TokenStore
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the process stops: open log streams end instead of holding shutdown up."""
    jobs: LocalJobs = field(init=False)
    """The jobs service every job route answers through."""

    def __post_init__(self) -> None:
        self.jobs = LocalJobs(
            self.log,
            self.settings.topics,
            self.host,
            lambda: self.box,
            visible_within=_VISIBLE_WITHIN,
            stop=self.stop,
            organization=self.settings.organization,
            callbacks=self.settings.callbacks_path,
        )


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]
