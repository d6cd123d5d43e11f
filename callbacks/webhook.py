"""The `webhook` callback: POSTs a signed JSON body per status change and completion.

Each request carries:

- `Idempotency-Key`: the event id. The host delivers an event id once, but a crash between
  the response and the host's record of it sends it again: a receiver drops repeated keys.
- `X-Jobstream-Event`: the hook (`status_changed`, `completion`, `log_write`).
- `X-Jobstream-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body under the
  shared secret (`secret` in `[callbacks.webhook]`, formerly `webhook_secret`), when one is
  set.
- `X-Jobstream-Delivery-Attempt`: 1 for the first try, then 2, 3, ...

A 2xx answer is success. A connection error, a timeout, 408, 429 and 5xx are retried by the
host with backoff; any other answer (a 4xx: the receiver rejects this body) dead-letters
the event at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Self

import httpx
import orjson
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from jobstream.callbacks.base import (
    Callback,
    CallbackConfigError,
    DeliveryFailed,
    GiveUp,
    JobInfo,
    current_delivery,
)
from jobstream.events.models import Completed, Event, LogAppended, LogLine, Status, StatusChanged

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookCallback",
    "WebhookError",
    "WebhookSettings",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-Jobstream-Signature-256"
_RETRIED = frozenset({408, 429})


class WebhookError(DeliveryFailed):
    """The receiver answered with a status worth retrying (408, 429, 5xx)."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` (a constant-time comparison)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class WebhookSettings(BaseModel):
    """`[callbacks.webhook]`. Each key also answers to its flat name from before sections
    (`webhook_url`, ...), for code that builds the callback from those."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(None, validation_alias=AliasChoices("url", "webhook_url"))
    secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("secret", "webhook_secret")
    )
    timeout: float = Field(10.0, gt=0, validation_alias=AliasChoices("timeout", "webhook_timeout"))
    logs: bool = Field(False, validation_alias=AliasChoices("logs", "webhook_logs"))


class WebhookCallback(Callback):
    """POSTs to `url`; `logs` adds one request per log chunk."""

    name = "webhook"
    settings_model = WebhookSettings

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        logs: bool = False,
    ) -> None:
        self.url = url
        self.secret = secret
        self.timeout = timeout
        self.logs = logs
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        try:
            options = WebhookSettings.model_validate(settings)
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            raise CallbackConfigError(f"the webhook callback's settings: {problems}") from None
        if not options.url:
            raise CallbackConfigError(
                "the webhook callback needs a url: [callbacks.webhook] url, "
                "JOBSTREAM_CALLBACKS__WEBHOOK__URL or JOBSTREAM_WEBHOOK_URL, --webhook-url"
            )
        return cls(
            options.url,
            secret=options.secret.get_secret_value() if options.secret else None,
            timeout=options.timeout,
            logs=options.logs,
        )

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.timeout, headers={"User-Agent": "jobstream-webhook"}
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def takes(self, event: Event) -> bool:
        if isinstance(event, LogAppended):
            return self.logs
        return isinstance(event, StatusChanged | Completed)

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        await self._post("status_changed", job, {"status": status.name})

    async def completion(self, job: JobInfo, success: bool) -> None:
        await self._post("completion", job, {"success": success})

    async def log_write(self, job: JobInfo, lines: list[LogLine]) -> None:
        await self._post("log_write", job, {"lines": [line.model_dump() for line in lines]})

    async def _post(self, hook: str, job: JobInfo, fields: dict[str, Any]) -> None:
        if self._client is None:
            raise RuntimeError("the webhook callback is not started")
        delivery = current_delivery()
        body = orjson.dumps(
            {
                "hook": hook,
                "event_id": delivery.key,
                "job": job.model_dump(mode="json"),
                **fields,
                "event": delivery.event.model_dump(mode="json"),
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.key,
            "X-Jobstream-Event": hook,
            "X-Jobstream-Delivery-Attempt": str(delivery.attempt),
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        response = await self._client.post(self.url, content=body, headers=headers)
        code = response.status_code
        if 200 <= code < 300:
            return
        message = f"{self.url} answered {code} {response.reason_phrase}"
        if code >= 500 or code in _RETRIED:
            raise WebhookError(message)
        raise GiveUp(message)
