"""ApiServer: uvicorn inside the process's own event loop, stopped by its stop event.

The socket is bound before anything else starts, so a taken port fails the command at
once with a plain message; the runtime file is written only once uvicorn accepts.
Signals stay with jobstream (`stop_on_signals`): uvicorn's own handlers would replace them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn

from jobstream import runtime
from jobstream.api.app import create_app
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.errors import JobstreamError
from jobstream.events.log.base import EventLog
from jobstream.projections.host import ViewsHost
from jobstream.settings import Settings

__all__ = ["ApiServer", "CannotListen"]


class CannotListen(JobstreamError):
    """The API's address cannot be bound (the port is in use, or the host is not ours)."""


# Open log streams end when stop is set; this bounds whatever else is in flight.
_GRACE = 3.0
_START_TIMEOUT = 30.0


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
