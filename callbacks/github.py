"""The `github` callback: commit statuses for jobs that name a repository and a commit.

A job takes part when its labels carry `github.repository` (`owner/name`) and `github.sha`;
`github.context` overrides the status context (default `jobstream/<job name>`). States:

| event | state |
|---|---|
| WAITING, STARTED | pending |
| FAILING | failure |
| Completed | success, or failure |

A status is sent only when the state for (repository, sha, context) changes, because
GitHub refuses more than 1,000 statuses per commit and context. The API base URL is a setting
(`https://HOST/api/v3` for GitHub Enterprise Server). 401, 404 and 422 dead-letter the event
at once (a bad token, repository or sha will not mend); rate limits and 5xx are retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Self

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from jobstream.callbacks.base import (
    Callback,
    CallbackConfigError,
    DeliveryFailed,
    GiveUp,
    JobInfo,
    current_delivery,
)
from jobstream.events.models import Completed, Event, Status, StatusChanged

__all__ = [
    "CONTEXT_LABEL",
    "REPOSITORY_LABEL",
    "SHA_LABEL",
    "GitHubCallback",
    "GitHubError",
    "GitHubSettings",
]

REPOSITORY_LABEL = "github.repository"
SHA_LABEL = "github.sha"
CONTEXT_LABEL = "github.context"

_STATES = {
    Status.WAITING: ("pending", "Waiting to run"),
    Status.STARTED: ("pending", "Running"),
    Status.FAILING: ("failure", "Failing"),
}
_ENDED = {
    Status.SUCCEEDED: "Succeeded",
    Status.FAILED: "Failed",
    Status.CANCELLED: "Cancelled",
}
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
# GitHub cuts descriptions longer than this.
_DESCRIPTION = 140
# (repository, sha, context) states remembered; a forgotten one costs one repeated status.
_REMEMBERED = 10_000


class GitHubError(DeliveryFailed):
    """GitHub answered with something worth retrying (rate limit, 5xx)."""


class GitHubSettings(BaseModel):
    """`[callbacks.github]`. Each key also answers to its flat name from before sections
    (`github_token`, `github_api`, `public_url`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr | None = Field(None, validation_alias=AliasChoices("token", "github_token"))
    api: str = Field("https://api.github.com", validation_alias=AliasChoices("api", "github_api"))
    public_url: str | None = Field(
        None, description="base URL of jobstream's web pages, linked from commit statuses"
    )


class GitHubCallback(Callback):
    """Sets commit statuses through the API at `api` with `token`."""

    name = "github"
    settings_model = GitHubSettings

    def __init__(
        self,
        token: str,
        *,
        api: str = "https://api.github.com",
        public_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.token = token
        self.api = api.rstrip("/")
        self.public_url = public_url.rstrip("/") if public_url else None
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._sent: dict[tuple[str, str, str], str] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Self:
        try:
            options = GitHubSettings.model_validate(settings)
        except ValidationError as exc:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
            raise CallbackConfigError(f"the github callback's settings: {problems}") from None
        if not options.token or not options.token.get_secret_value():
            raise CallbackConfigError(
                "the github callback needs a token: [callbacks.github] token, "
                "JOBSTREAM_CALLBACKS__GITHUB__TOKEN or JOBSTREAM_GITHUB_TOKEN"
            )
        return cls(
            options.token.get_secret_value(),
            api=options.api or "https://api.github.com",
            public_url=options.public_url,
        )

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=self.timeout,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "jobstream",
            },
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def takes(self, event: Event) -> bool:
        if isinstance(event, StatusChanged):
            return event.status in _STATES
        return isinstance(event, Completed)

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        if status in _STATES:
            await self._set(job, *_STATES[status])

    async def completion(self, job: JobInfo, success: bool) -> None:
        event = current_delivery().event
        ended = event.status if isinstance(event, Completed) else None
        description = _ENDED.get(ended, "Succeeded" if success else "Failed")
        await self._set(job, "success" if success else "failure", description)

    async def _set(self, job: JobInfo, state: str, description: str) -> None:
        repository = job.labels.get(REPOSITORY_LABEL)
        sha = job.labels.get(SHA_LABEL)
        if not repository or not sha:
            return
        if not _REPOSITORY.match(repository) or not _SHA.match(sha):
            raise GiveUp(f"labels {repository!r} / {sha!r} are not owner/name and a commit sha")
        context = job.labels.get(CONTEXT_LABEL) or (
            f"jobstream/{job.name}" if job.name else "jobstream"
        )
        key = (repository, sha.lower(), context)
        if self._sent.get(key) == state:
            return
        body: dict[str, Any] = {
            "state": state,
            "description": f"{description}: {job.name or job.id}"[:_DESCRIPTION],
            "context": context,
        }
        if self.public_url:
            body["target_url"] = f"{self.public_url}/jobs/{job.id}"
        await self._post(f"{self.api}/repos/{repository}/statuses/{sha}", body)
        self._sent.pop(key, None)
        self._sent[key] = state
        if len(self._sent) > _REMEMBERED:
            del self._sent[next(iter(self._sent))]

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        if self._client is None:
            raise RuntimeError("the github callback is not started")
        response = await self._client.post(url, json=body)
        code = response.status_code
        if code in (200, 201):
            return
        message = f"POST {url}: {code} {_message(response)}"
        rate_limited = code == 403 and response.headers.get("x-ratelimit-remaining") == "0"
        if code >= 500 or code == 429 or rate_limited:
            raise GitHubError(message)
        raise GiveUp(message)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.reason_phrase))
    except ValueError:
        return response.reason_phrase
