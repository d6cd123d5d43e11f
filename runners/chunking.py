"""Cut a job's log lines into chunks for `Notifier.log_write`, by size and by time.

Lines are numbered from 1 across the whole job in the order they arrive, whatever their
stream. A chunk goes out when it reaches `max_lines` or `max_bytes` (UTF-8 bytes of the
texts), and a timer sends a non-empty chunk `max_delay` seconds after its first line came
in, so the last line of a quiet job is visible at once rather than at the end.

Chunks are `events.models.LogChunk`s, kept as the runs of lines the chunker was fed (one
stream and timestamp per run): the runner's path builds no `LogLine` per line.
"""

from __future__ import annotations

import asyncio
from itertools import accumulate

from jobstream.events.models import LineRun, LogChunk, Stream
from jobstream.runners.notifier import Notifier

__all__ = ["LogChunker", "utf8_size"]


def utf8_size(texts: list[str]) -> int:
    """UTF-8 byte count of all `texts` together."""
    joined = "".join(texts)
    return len(joined) if joined.isascii() else len(joined.encode())


def _line_sizes(texts: list[str]) -> list[int]:
    if "".join(texts).isascii():
        return list(map(len, texts))
    return [len(t.encode()) for t in texts]


class LogChunker:
    """Numbers lines, cuts them into `LogChunk`s and hands each to `notifier.log_write`.

    `lines` and `bytes` are the job's running totals, for `Notifier.completion`. Chunks
    reach the notifier one at a time and in order, so line numbers only ever go up.
    """

    def __init__(
        self,
        notifier: Notifier,
        *,
        max_lines: int = 1000,
        max_bytes: int = 256 * 1024,
        max_delay: float = 0.1,
    ) -> None:
        if max_lines < 1 or max_bytes < 1 or max_delay <= 0:
            raise ValueError("max_lines, max_bytes and max_delay must be positive")
        self._notifier = notifier
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._max_delay = max_delay
        self.lines = 0
        self.bytes = 0
        self._runs: list[LineRun] = []
        self._pending_lines = 0
        self._pending_bytes = 0
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._timed_flushes: set[asyncio.Task[None]] = set()

    async def add(self, stream: Stream, at: str, texts: list[str]) -> None:
        """Append lines that share a stream and a timestamp, sending full chunks."""
        while texts:
            size = utf8_size(texts)
            if (
                self._pending_lines + len(texts) < self._max_lines
                and self._pending_bytes + size < self._max_bytes
            ):
                self._append(stream, at, texts, size)
                return
            take, taken_bytes = self._fit(texts)
            if take:
                self._append(stream, at, texts[:take], taken_bytes)
                texts = texts[take:]
            await self.flush()

    def _fit(self, texts: list[str]) -> tuple[int, int]:
        """How many of `texts` (and their bytes) fill the pending chunk up to its limits."""
        room = self._max_lines - self._pending_lines
        take = 0
        taken = 0
        for total in accumulate(_line_sizes(texts[:room])):
            if self._pending_bytes + total > self._max_bytes:
                break
            take += 1
            taken = total
        if take == 0 and self._pending_lines == 0:
            # One line bigger than max_bytes still has to go out, alone.
            return 1, _line_sizes(texts[:1])[0]
        return take, taken

    def _append(self, stream: Stream, at: str, texts: list[str], size: int) -> None:
        self._runs.append((stream, at, texts))
        self._pending_lines += len(texts)
        self._pending_bytes += size
        self.lines += len(texts)
        self.bytes += size
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._max_delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        task = asyncio.create_task(self.flush())
        self._timed_flushes.add(task)
        task.add_done_callback(self._timed_flush_done)

    def _timed_flush_done(self, task: asyncio.Task[None]) -> None:
        # A failed one stays in the set, so that `close` raises its error.
        if not task.cancelled() and task.exception() is None:
            self._timed_flushes.discard(task)

    async def flush(self) -> None:
        """Send whatever is pending as one chunk."""
        async with self._lock:
            # Taken under the lock, so chunks leave in the order their lines came in.
            if not self._runs:
                return
            chunk = LogChunk(
                self.lines - self._pending_lines + 1,
                self._runs,
                self._pending_lines,
                self._pending_bytes,
            )
            self._runs = []
            self._pending_lines = 0
            self._pending_bytes = 0
            await self._notifier.log_write(chunk)

    async def close(self) -> None:
        """Send the rest; after this the notifier has every line."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._timed_flushes):
            # Surfaces a notifier error raised inside a timer's flush.
            await task
        await self.flush()
