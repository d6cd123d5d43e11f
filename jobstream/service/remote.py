"""RemoteJobs: the jobs service through the HTTP API of the process that holds the views.

The command line uses it when a server runs (`--server`, or the runtime file a `serve` or
`project` on this data directory wrote). Answers come back as the models LocalJobs gives
(JobRecord, LogLineRow, Stats, ...), and failures as the same exceptions (JobNotFound,
DocumentError, ...), so a command prints the same thing and exits with the same code
whichever way it asked.

`blocking=True` makes its requests with httpx's synchronous client: every coroutine of
it then runs to its end without waiting, so a command asking one question needs no event
loop (jobstream.cli.common.ask), and neither asyncio nor the asynchronous HTTP stack is
imported. A follower (`follow`) streams, and takes the asynchronous client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from jobstream.events.errors import (
    AmbiguousJobId,
    DocumentError,
    JobNotEnded,
    JobNotFound,
    JobstreamError,
)
from jobstream.events.values import Status
from jobstream.projections.records import JobRecord, LogLineRow, Stats
from jobstream.service.base import (
    CancelOutcome,
    DeadLetterEntry,
    InvalidCursor,
    JobList,
    JobsService,
    JobSteps,
    LogPage,
    RetryOutcome,
)

if TYPE_CHECKING:
    from jobstream.events.documents.validation import Problem, ValidatedDocument

__all__ = ["ApiRequestError", "RemoteJobs"]

# A follower reconnects this many times (resuming after the last line) before giving up.
_RECONNECTS = 10
_RECONNECT_WAIT = 0.5


class ApiRequestError(JobstreamError):
    """The API answered with an error (its `code` and `message`), or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class _AmbiguousJobId(AmbiguousJobId):
    # The server's message already names the matches; the client does not know them.
    def __init__(self, prefix: str, message: str) -> None:
        self.prefix = prefix
        self.matches = []
        JobstreamError.__init__(self, message)


class _NotEnded(JobNotEnded):
    # The server's message names the job and its status.
    def __init__(self, prefix: str, message: str) -> None:
        self.job_id = prefix
        self.status = ""
        JobstreamError.__init__(self, message)


def _record(data: dict[str, Any]) -> JobRecord:
    # Statuses travel by name; the record holds the enum.
    return JobRecord.model_validate({**data, "status": Status[data["status"]]})


class RemoteJobs(JobsService):
    """The service at `url`, sending `token` (if any) as a bearer token."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        blocking: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client if blocking else httpx.AsyncClient
        # Certificates only for https: loading the CA bundle costs a query command about
        # 0.05 s, and a plain http URL never uses it.
        self._http: httpx.Client | httpx.AsyncClient = client(
            base_url=self.url,
            headers=headers,
            timeout=timeout,
            verify=self.url.startswith("https:"),
        )

    async def close(self) -> None:
        if isinstance(self._http, httpx.AsyncClient):
            await self._http.aclose()
        else:
            self._http.close()

    async def submit(
        self,
        validated: ValidatedDocument,
        labels: Mapping[str, str] | None = None,
        *,
        organization: str | None = None,
    ) -> str:
        # The document as the log will hold it (JSON of the validated model): the server
        # validates it again and encrypts its secrets with the installation's key.
        body = validated.document.model_dump_json(exclude_defaults=True).encode()
        try:
            data = await self._call(
                "POST",
                "/jobs",
                content=body,
                headers={"Content-Type": "application/json"},
                params={
                    "label": [f"{k}={v}" for k, v in (labels or {}).items()],
                    **({"organization": organization} if organization else {}),
                },
            )
        except _Rejected as rejected:
            raise DocumentError(rejected.problems, self.url) from None
        return str(data["job_id"])

    async def list(
        self,
        *,
        status: Sequence[Status] | None = None,
        name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        labels: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
    ) -> JobList:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        else:
            params["offset"] = offset
        if status:
            params["status"] = [s.name for s in status]
        if name is not None:
            params["name"] = name
        if since is not None:
            params["since"] = since.isoformat()
        if until is not None:
            params["until"] = until.isoformat()
        if labels:
            params["label"] = [f"{k}={v}" for k, v in labels.items()]
        page = await self._call("GET", "/jobs", params=params)
        return JobList.model_validate({**page, "jobs": [_record(job) for job in page["jobs"]]})

    async def get(self, job: str) -> JobRecord:
        return _record(await self._call("GET", f"/jobs/{job}", prefix=job))

    async def log(
        self,
        job: str,
        start: int = 1,
        limit: int = 1000,
        *,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> LogPage:
        params: dict[str, Any] = {"from": start, "limit": limit}
        if since is not None:
            params["since"] = since.isoformat()
        if tail is not None:
            params["tail"] = tail
        page = await self._call("GET", f"/jobs/{job}/log", params=params, prefix=job)
        lines = [LogLineRow(job_id=page["job_id"], **line) for line in page["lines"]]
        return LogPage(
            job_id=page["job_id"], lines=lines, next=page["next"], completed=page["completed"]
        )

    async def follow(self, job: str, start: int = 1) -> AsyncIterator[LogLineRow]:
        """The API's Server-Sent Events; a dropped connection resumes after the last line
        received (of the job the prefix named at the start)."""
        import asyncio

        if not isinstance(self._http, httpx.AsyncClient):
            raise TypeError("following a log takes RemoteJobs(blocking=False)")
        job_id = (await self.get(job)).job_id
        last: int | None = None
        for attempt in range(_RECONNECTS + 1):
            headers = {"Last-Event-ID": str(last)} if last is not None else {}
            try:
                async with self._http.stream(
                    "GET",
                    f"/jobs/{job_id}/log/stream",
                    params={"from": start},
                    headers=headers,
                    timeout=httpx.Timeout(30.0, read=None),
                ) as response:
                    if response.is_error:
                        await response.aread()
                        raise self._error(response, job_id)
                    async for event, data, event_id in _sse(response):
                        if event == "end":
                            return
                        if event == "line":
                            line = LogLineRow(job_id=job_id, **json.loads(data))
                            last = int(event_id) if event_id else line.n
                            yield line
            except httpx.TransportError as exc:
                if attempt == _RECONNECTS:
                    raise ApiRequestError(f"lost the log stream from {self.url}: {exc}") from None
                await asyncio.sleep(_RECONNECT_WAIT)
        raise ApiRequestError(f"the log stream from {self.url} kept ending early")

    async def cancel(self, job: str) -> CancelOutcome:
        data = await self._call("POST", f"/jobs/{job}/cancel", prefix=job)
        return CancelOutcome.model_validate({**data, "status": Status[data["status"]]})

    async def retry(self, job: str) -> RetryOutcome:
        data = await self._call("POST", f"/jobs/{job}/retry", prefix=job)
        return RetryOutcome.model_validate(data)

    async def stats(self) -> Stats:
        return Stats.model_validate(await self._call("GET", "/stats"))

    async def steps(self, job: str) -> JobSteps:
        return JobSteps.model_validate(await self._call("GET", f"/jobs/{job}/steps", prefix=job))

    async def dead_letters(self) -> list[DeadLetterEntry]:
        data = await self._call("GET", "/dead-letters")
        return [DeadLetterEntry.model_validate(d) for d in data["dead_letters"]]

    async def _call(self, method: str, path: str, *, prefix: str = "", **kwargs: Any) -> Any:
        try:
            if isinstance(self._http, httpx.AsyncClient):
                response = await self._http.request(method, path, **kwargs)
            else:
                response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiRequestError(f"cannot reach the jobstream API at {self.url}: {exc}") from None
        if response.is_error:
            raise self._error(response, prefix)
        return response.json()

    def _error(self, response: httpx.Response, prefix: str) -> JobstreamError:
        try:
            body = response.json()
            code, message = body["code"], body["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "", response.text[:200] or response.reason_phrase
        if code == "job_not_found":
            return JobNotFound(prefix)
        if code == "ambiguous_job_id":
            return _AmbiguousJobId(prefix, message)
        if code == "job_not_ended":
            return _NotEnded(prefix, message)
        if code in ("invalid_document", "unresolved_stage"):
            from jobstream.events.documents.validation import Problem

            # A stage the server cannot resolve is a problem of the document, as locally.
            return _Rejected([Problem.model_validate(p) for p in body.get("problems", [])])
        if code == "invalid_cursor":
            return InvalidCursor(message)
        return ApiRequestError(
            f"{self.url}: {message} ({response.status_code} {code})".rstrip(),
            status=response.status_code,
            code=code,
        )


class _Rejected(JobstreamError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


async def _sse(response: httpx.Response) -> AsyncIterator[tuple[str, str, str | None]]:
    """(event, data, id) of each event in a text/event-stream body."""
    event, data, event_id = "message", [], None
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, "\n".join(data), event_id
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue  # a comment: the server's keep-alive ping
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
