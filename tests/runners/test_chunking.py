import asyncio
import time

import pytest

from jobstream.runners.chunking import LogChunker, utf8_size
from jobstream.runners.masking import Masker
from jobstream.runners.process import LineSplitter, timestamp
from jobstream.runners.testing import RecordingNotifier

from ..polling import wait_until

AT = "2024-01-01T00:00:00.000000Z"


async def test_lines_are_numbered_across_streams_in_arrival_order() -> None:
    notifier = RecordingNotifier()
    chunker = LogChunker(notifier)
    await chunker.add("stdout", AT, ["a", "b"])
    await chunker.add("system", AT, ["c"])
    await chunker.add("stderr", "later", ["d"])
    await chunker.close()
    assert [(line.n, line.stream, line.text) for line in notifier.lines] == [
        (1, "stdout", "a"),
        (2, "stdout", "b"),
        (3, "system", "c"),
        (4, "stderr", "d"),
    ]
    assert notifier.lines[3].at == "later"
    assert (chunker.lines, chunker.bytes) == (4, 4)


async def test_chunks_are_cut_at_max_lines() -> None:
    notifier = RecordingNotifier()
    chunker = LogChunker(notifier, max_lines=3, max_delay=60)
    await chunker.add("stdout", AT, [str(i) for i in range(7)])
    assert [len(c) for c in notifier.chunks] == [3, 3]
    await chunker.close()
    assert [len(c) for c in notifier.chunks] == [3, 3, 1]
    assert [line.n for line in notifier.lines] == list(range(1, 8))


async def test_chunks_are_cut_at_max_bytes() -> None:
    notifier = RecordingNotifier()
    chunker = LogChunker(notifier, max_bytes=10, max_delay=60)
    await chunker.add("stdout", AT, ["aaaa", "é" * 2, "bbbb", "cc"])  # 4 + 4 + 4 + 2 bytes
    await chunker.add("stdout", AT, ["x" * 25])  # alone, though over the limit
    await chunker.close()
    assert [[line.text for line in c] for c in notifier.chunks] == [
        ["aaaa", "éé"],
        ["bbbb", "cc"],
        ["x" * 25],
    ]
    assert chunker.bytes == 4 + 4 + 4 + 2 + 25


async def test_timer_delivers_a_quiet_line_within_max_delay() -> None:
    notifier = RecordingNotifier()
    chunker = LogChunker(notifier, max_delay=0.05)
    added = time.time()
    await chunker.add("stdout", AT, ["only line"])
    async with asyncio.timeout(2):
        while not notifier.chunks:
            await asyncio.sleep(0.005)
    assert notifier.chunk_times[0] - added < 0.05 + 0.03
    await chunker.close()
    assert len(notifier.chunks) == 1


async def test_notifier_error_in_a_timed_flush_surfaces_on_close() -> None:
    class Broken(RecordingNotifier):
        async def log_write(self, lines: object) -> None:
            self.calls.append("log_write")
            raise RuntimeError("broken")

    notifier = Broken()
    chunker = LogChunker(notifier, max_delay=0.01)
    await chunker.add("stdout", AT, ["x"])
    # The timer's flush has failed; close has nothing left to send of its own.
    await wait_until(lambda: notifier.calls)
    with pytest.raises(RuntimeError, match="broken"):
        await chunker.close()
    assert notifier.calls == ["log_write"]


def test_utf8_size() -> None:
    assert utf8_size(["ab", "é"]) == 4


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError):
        LogChunker(RecordingNotifier(), max_lines=0)


@pytest.mark.slow
async def test_a_million_lines_through_masking_and_chunking() -> None:
    """Prints the rate; run with `pytest -m slow -s`."""

    class Counting(RecordingNotifier):
        count = 0

        async def log_write(self, lines: object) -> None:
            self.count += len(lines)  # type: ignore[arg-type]

    total = 1_000_000
    data = b"".join(
        b"line %07d of build output padded out to eighty chars .......\n" % i for i in range(total)
    )
    reads = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    notifier = Counting()
    chunker = LogChunker(notifier)
    stream = Masker(["s3cr3t-value", "another-secret", "x" * 40]).stream()
    splitter = LineSplitter()
    started = time.perf_counter()
    for read in reads:
        lines, continued = splitter.feed(read)
        await chunker.add("stdout", timestamp(), stream.feed(lines, continued))
    await chunker.close()
    rate = total / (time.perf_counter() - started)
    print(f"split + mask + chunk: {rate / 1e6:.2f}M lines/s")
    assert notifier.count == total
    assert rate > 1_000_000
