"""`/dead-letters`: what the views and the callbacks set aside, and why."""

from __future__ import annotations

from fastapi import APIRouter

from jobstream.api.auth import Reader
from jobstream.api.errors import ERROR_RESPONSES
from jobstream.api.models import DeadLetters
from jobstream.api.state import ServicesDep

__all__ = ["router"]

router = APIRouter(tags=["service"], responses=ERROR_RESPONSES)


@router.get(
    "/dead-letters",
    response_model=DeadLetters,
    summary="Records the views and the callbacks passed over: where, and why",
)
async def dead_letters(services: ServicesDep, _: Reader) -> DeadLetters:
    """The raw record is never shown: it may hold a secret value (a document sent with
    one in clear is dead-lettered for that very reason)."""
    return DeadLetters(dead_letters=await services.jobs.dead_letters())
