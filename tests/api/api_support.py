"""A real API server for the tests: the whole `serve` stack (embedded log, views, worker,
lease keeper, uvicorn on 127.0.0.1 port 0) in a thread with its own event loop, so sync
tests, schemathesis and Playwright talk to it over HTTP like any client."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from jobstream.api.server import ApiServer
from jobstream.api.tokens import TokenStore
from jobstream.cli.services import run_services
from jobstream.settings import Settings

from ..polling import eventually

_START_TIMEOUT = 30.0


def job_yaml(cmd: str, name: str = "t") -> str:
    return (
        f"name: {name}\nsequence: [{{stage: s}}]\nstages:\n  - name: s\n    steps:\n"
        f"      - action: command\n        cmd: {json.dumps(cmd)}\n"
    )


class LiveServer:
    def __init__(self, data_dir: Path, *, with_worker: bool = True, **settings: Any) -> None:
        self.settings = Settings(
            data_dir=data_dir, port=0, lease=2, kill_grace=1, log_level="WARNING", **settings
        )
        self.with_worker = with_worker
        self.url = ""
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="api-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise TimeoutError("the API server did not start")
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT)
        assert not self._thread.is_alive(), "the API server did not stop"

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def ready(api: ApiServer) -> None:
            self.url = api.url
            self._ready.set()

        try:
            await run_services(
                self.settings, self._stop, with_worker=self.with_worker, on_ready=ready
            )
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def token(self, name: str, scope: str = "write") -> str:
        return TokenStore(self.settings.tokens_path).create(name, scope)  # type: ignore[arg-type]

    def submit(self, cmd: str, *, name: str = "t", token: str | None = None) -> str:
        with self.client(token) as http:
            response = http.post(
                "/jobs", content=job_yaml(cmd, name), headers={"Content-Type": "application/yaml"}
            )
        assert response.status_code == 201, response.text
        return response.json()["job_id"]

    def wait_done(self, job_id: str, timeout: float = 30, token: str | None = None) -> dict:
        with self.client(token) as http:
            return eventually(
                lambda: (r := http.get(f"/jobs/{job_id}").json()).get("completed") and r,
                timeout=timeout,
            )


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Events of a text/event-stream body: dicts of event, data and id (when sent)."""
    event: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            event[field] = (
                f"{event[field]}\n{value}" if field == "data" and field in event else value
            )
