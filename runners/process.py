"""Spawn one child process, capture its output as lines, and kill its whole tree.

This module knows nothing of jobs (buildkite's `internal/process`): it runs the argv a
builder made (runners/builders/) in a directory with an environment and hands each read
of output, already split into lines, to an `OutputSink`.

- The child runs in its own session, so its process group holds the child and everything
  it starts; signals go to the group, never to the child alone.
- Output is read in 64 KiB chunks and split here: DESIGN.md measured 5.4M lines/s for
  `read(65536)` + split against 0.83M for `readline()`. Every line of one read shares one
  timestamp, taken when the read returned.
- A line longer than `MAX_LINE_BYTES` is cut into pieces of at most that size; the indices
  of pieces whose line goes on in the next piece are given in `Output.continued`, so a
  masker can hold back a secret cut in two.
- When the main child exits, processes left in its group get SIGTERM and, once the output
  pipes are closed or `kill_grace` has passed, SIGKILL: a background grandchild cannot keep
  the pipes (and so the step) open for ever. The grace is measured on the pipes, not on
  the group emptying, because a group of unreaped zombies (a container whose PID 1 does
  not reap) never empties.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

__all__ = ["MAX_LINE_BYTES", "READ_SIZE", "LineSplitter", "Output", "OutputSink", "Process"]

READ_SIZE = 65536
MAX_LINE_BYTES = 65536

OutputStream = Literal["stdout", "stderr"]


@dataclass(frozen=True, slots=True)
class Output:
    """The lines of one read from one stream."""

    stream: OutputStream
    at: str
    lines: list[str]
    # Indices into `lines` of pieces of a cut over-long line whose text goes on in the next
    # piece (the next line here, or the first line of the next Output of the same stream).
    continued: frozenset[int] = field(default_factory=frozenset)


OutputSink = Callable[[Output], Awaitable[None]]


def timestamp() -> str:
    """Now as RFC 3339 UTC text with microseconds and `Z`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cut_point(data: bytes, limit: int) -> int:
    """The largest cut at or below `limit` that does not split a UTF-8 character."""
    cut = limit
    # Continuation bytes are 0b10xxxxxx; a character is at most 4 bytes long.
    while cut > limit - 3 and data[cut] & 0xC0 == 0x80:
        cut -= 1
    return cut


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class LineSplitter:
    """Turns the bytes of one stream into lines, keeping a partial line across reads."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._max = max_line
        self._pending = b""

    def feed(self, data: bytes) -> tuple[list[str], frozenset[int]]:
        """The complete lines (and cut pieces) that `data` finishes."""
        buf = self._pending + data if self._pending else data
        end = buf.rfind(b"\n")
        if end < 0:
            self._pending = buf
            return self._cut_pending([], set())
        complete, self._pending = buf[:end], buf[end + 1 :]
        # Fast path: one decode and split for the whole read. A line can only be too long
        # if the complete part is; then look at the lines one by one.
        if len(complete) <= self._max or max(map(len, complete.split(b"\n"))) <= self._max:
            return self._cut_pending(_decode(complete).split("\n"), set())
        lines: list[str] = []
        continued: set[int] = set()
        for raw in complete.split(b"\n"):
            while len(raw) > self._max:
                cut = _cut_point(raw, self._max)
                continued.add(len(lines))
                lines.append(_decode(raw[:cut]))
                raw = raw[cut:]
            lines.append(_decode(raw))
        return self._cut_pending(lines, continued)

    def _cut_pending(
        self, lines: list[str], continued: set[int]
    ) -> tuple[list[str], frozenset[int]]:
        # Cutting only while *more* than the limit is pending leaves a non-empty rest, so a
        # continued piece is always followed by another piece of the same stream.
        while len(self._pending) > self._max:
            cut = _cut_point(self._pending, self._max)
            continued.add(len(lines))
            lines.append(_decode(self._pending[:cut]))
            self._pending = self._pending[cut:]
        return lines, frozenset(continued)

    def finish(self) -> list[str]:
        """The last line, if the stream did not end with a newline."""
        rest, self._pending = self._pending, b""
        return [_decode(rest)] if rest else []


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """Stream pipes, plus a future set when the child exits.

    `asyncio.subprocess.Process.wait()` returns only once the pipes are closed as well, so
    it would wait on any grandchild that holds them; `exited` does not.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=READ_SIZE, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


class Process:
    """One child process in its own process group.

    `wait()` returns the exit code (negative: killed by that signal) once the child has
    exited, its leftover group members are killed and all output was handed to the sink.
    `terminate()` kills the tree; once the process has ended it only returns the code, so
    callers can always call it on the way out.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_output: OutputSink,
        kill_grace: float = 5.0,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self._argv = list(argv)
        # Descriptors the child inherits: a builder hands the step's script over this way.
        self._pass_fds = tuple(pass_fds)
        self._cwd = cwd
        self._env = dict(env)
        self._sink = on_output
        self._grace = kill_grace
        self._pid: int | None = None
        self._done: asyncio.Task[int] | None = None
        self._kill_timer: asyncio.TimerHandle | None = None

    @property
    def pid(self) -> int:
        if self._pid is None:
            raise RuntimeError("process not started")
        return self._pid

    async def start(self) -> None:
        """Spawn the child; raises OSError if it cannot be started (e.g. no such cwd)."""
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.subprocess_exec(
            lambda: _ExitProtocol(loop),
            *self._argv,
            cwd=self._cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            pass_fds=self._pass_fds,
        )
        self._pid = transport.get_pid()
        self._done = asyncio.create_task(self._lifecycle(transport, protocol))

    async def wait(self) -> int:
        if self._done is None:
            raise RuntimeError("process not started")
        # Shielded: a caller giving up on waiting must not abandon the clean-up half done.
        return await asyncio.shield(self._done)

    async def terminate(self) -> int:
        """SIGTERM to the group now, SIGKILL after `kill_grace`; the exit code."""
        if self._done is None:
            raise RuntimeError("process not started")
        if not self._done.done() and self._kill_timer is None:
            self._signal_group(signal.SIGTERM)
            loop = asyncio.get_running_loop()
            self._kill_timer = loop.call_later(self._grace, self._signal_group, signal.SIGKILL)
        return await self.wait()

    def _signal_group(self, sig: signal.Signals) -> bool:
        """Send `sig` to the child's group; False if the group has no member left."""
        try:
            # The child leads its own session, so its pid is the group id.
            os.killpg(self.pid, sig)
        except ProcessLookupError:
            return False
        return True

    async def _lifecycle(
        self, transport: asyncio.SubprocessTransport, protocol: _ExitProtocol
    ) -> int:
        assert protocol.stdout is not None and protocol.stderr is not None
        readers = [
            asyncio.create_task(self._read(protocol.stdout, "stdout")),
            asyncio.create_task(self._read(protocol.stderr, "stderr")),
        ]
        try:
            await protocol.exited
            code = transport.get_returncode()
            assert code is not None
            if self._signal_group(signal.SIGTERM):
                await asyncio.wait(readers, timeout=self._grace)
                self._signal_group(signal.SIGKILL)
            # With the group gone the pipes reach EOF at once, unless a process that left
            # the group (setsid) still holds one: stop reading after one more grace then.
            _, alive = await asyncio.wait(readers, timeout=self._grace)
            for reader in alive:
                reader.cancel()
            for result in await asyncio.gather(*readers, return_exceptions=True):
                # A failing sink (e.g. the notifier) is not the child's fault: pass it on.
                if isinstance(result, Exception):
                    raise result
            return code
        finally:
            if self._kill_timer is not None:
                self._kill_timer.cancel()
            for reader in readers:
                reader.cancel()
            # Releases pipes a reader gave up on; the child is already reaped.
            transport.close()

    async def _read(self, reader: asyncio.StreamReader, stream: OutputStream) -> None:
        splitter = LineSplitter()
        try:
            while data := await reader.read(READ_SIZE):
                at = timestamp()
                lines, continued = splitter.feed(data)
                if lines:
                    await self._sink(Output(stream, at, lines, continued))
            if last := splitter.finish():
                await self._sink(Output(stream, timestamp(), last))
        except Exception:
            # Nobody reads this pipe any more, so the child could block writing for ever.
            self._signal_group(signal.SIGKILL)
            raise
