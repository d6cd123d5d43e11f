"""ApiServer: uvicorn inside the process's own event loop, stopped by its stop event.

The socket is bound before anything else starts, so a taken port fails the command at
once with a plain message; the runtime file is written only once uvicorn accepts.
Signals stay with jobstream (`stop_on_signals`): uvicorn's own handlers would replace them.

Slow clients are bounded: a request's headers must arrive within `header_timeout` (uvicorn
has no such limit: one byte now and then held a connection for ever) and be at most
`MAX_HEADER_BYTES`; an idle kept-alive connection closes after `KEEP_ALIVE` seconds; a body
must arrive within `body_timeout` (`api.body.RequestLimits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from jobstream import runtime
from jobstream.api.app import create_app
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.errors import JobstreamError
from jobstream.events.log.base import EventLog
from jobstream.projections.host import ViewsHost
from jobstream.settings import Settings

__all__ = ["KEEP_ALIVE", "MAX_HEADER_BYTES", "ApiServer", "CannotListen"]


class CannotListen(JobstreamError):
    """The API's address cannot be bound (the port is in use, or the host is not ours)."""


# Open log streams end when stop is set; this bounds whatever else is in flight.
_GRACE = 3.0
_START_TIMEOUT = 30.0
MAX_HEADER_BYTES = 16 * 1024
KEEP_ALIVE = 5.0


class _HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, with a deadline for each request's headers: from the
    connection, or from the first byte of a kept-alive connection's next request."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._watch_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _watch_headers(self) -> None:
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if waiting and self._deadline is None:
            self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)
        elif not waiting and self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        body = json.dumps(
            {
                "code": "request_timeout",
                "message": f"the request's headers did not arrive within "
                f"{self.header_timeout:g} s (header_timeout)",
            }
        ).encode()
        # No request was read, so h11 cannot answer: the bytes are written as they are.
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
        )
        self.transport.close()


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    def __init__(self, settings: Settings, log: EventLog, host: ViewsHost, box: SecretBox) -> None:
        self.settings = settings
        self.log = log
        self.host = host
        self.box = box
        self.socket = _bind(settings.host, settings.port)
        bound_host, port = self.socket.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{port}"
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; the runtime file exists while the server accepts."""
        app = create_app(self.settings, self.log, self.host, self.box, stop=stop)
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level=self.settings.log_level.lower(),
            # uvicorn's loggers go to jobstream's handler, in its format (text or JSON).
            log_config=None,
            # Request lines are only path and query (never a header, so never a token),
            # but a CI server's stderr is for problems, not traffic.
            access_log=False,
            timeout_graceful_shutdown=_GRACE,
            http=type(
                "HeaderDeadline",
                (_HeaderDeadline,),
                {"header_timeout": self.settings.header_timeout},
            ),
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            timeout_keep_alive=KEEP_ALIVE,
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(sockets=[self.socket]))
        try:
            async with asyncio.timeout(_START_TIMEOUT):
                while not server.started and not serving.done():
                    await asyncio.sleep(0.01)
            if server.started:
                runtime.write(self.settings.data_dir, self.url)
                self.ready.set()
            stop_waiting = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stop_waiting}, return_when=asyncio.FIRST_COMPLETED)
            stop_waiting.cancel()
            server.should_exit = True
            await serving
        finally:
            runtime.remove(self.settings.data_dir)
            self.socket.close()


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without
        # it every small response waits ~40 ms for a delayed ACK.
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise CannotListen(
            f"the API cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another with --port / JOBSTREAM_PORT (0: any free port)"
        ) from None
    sock.setblocking(False)
    return sock
