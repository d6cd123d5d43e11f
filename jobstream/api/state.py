"""What the routes work with, handed to `create_app` by the process that holds the views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request

from events.log import EventLog, Record, TopicPartition
from events.secrets import SecretBox
from jobstream.api.tokens import TokenStore
from jobstream.settings import Settings

__all__ = ["Services", "ServicesDep", "ViewsHost"]

T = TypeVar("T")


class ViewsHost(Protocol):
    """What the API needs of a projection host (the plain loop's or the faust one)."""

    topics: list[str]
    applied: int

    async def query(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def wait_for(
        self, target: Record | tuple[TopicPartition, int], timeout: float = 10.0
    ) -> None: ...

    def positions(self) -> dict[TopicPartition, int]: ...


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
