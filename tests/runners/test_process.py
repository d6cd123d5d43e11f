import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from jobstream.runners.process import LineSplitter, Output, Process

from ..processes import gone

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_splitter_keeps_partial_lines_across_reads() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"ab") == ([], frozenset())
    assert splitter.feed(b"c\nde\n\nf") == (["abc", "de", ""], frozenset())
    assert splitter.finish() == ["f"]
    assert splitter.finish() == []


def test_splitter_decodes_a_character_split_between_reads() -> None:
    splitter = LineSplitter()
    data = "é\n".encode()
    assert splitter.feed(data[:1]) == ([], frozenset())
    assert splitter.feed(data[1:]) == (["é"], frozenset())


def test_over_long_lines_are_cut_into_pieces() -> None:
    splitter = LineSplitter(max_line=4)
    lines, continued = splitter.feed(b"abcdefghij\nxy\n")
    assert lines == ["abcd", "efgh", "ij", "xy"]
    assert continued == {0, 1}
    # A partial line is cut as soon as it is too long; a non-empty rest always follows.
    lines, continued = splitter.feed(b"0123456")
    assert (lines, continued) == (["0123"], frozenset({0}))
    assert splitter.finish() == ["456"]


def test_cuts_do_not_split_a_utf8_character() -> None:
    splitter = LineSplitter(max_line=4)
    lines, continued = splitter.feed("abcé\n".encode())  # é is 2 bytes, at bytes 3-4
    assert lines == ["abc", "é"]
    assert continued == {0}


class Collect:
    def __init__(self) -> None:
        self.outputs: list[Output] = []

    async def __call__(self, output: Output) -> None:
        self.outputs.append(output)

    def lines(self, stream: str) -> list[str]:
        return [line for o in self.outputs if o.stream == stream for line in o.lines]


async def test_stdout_and_stderr_are_separate_and_timestamped(tmp_path: Path) -> None:
    sink = Collect()
    process = Process(
        ["/bin/sh", "-c", "echo out1; echo err1 >&2; printf 'out2\\nout3'"],
        cwd=tmp_path,
        env=os.environ,
        on_output=sink,
    )
    await process.start()
    assert await process.wait() == 0
    assert sink.lines("stdout") == ["out1", "out2", "out3"]
    assert sink.lines("stderr") == ["err1"]
    assert all(RFC3339_UTC.match(o.at) for o in sink.outputs)


async def test_lines_of_one_read_share_one_timestamp(tmp_path: Path) -> None:
    sink = Collect()
    process = Process(
        ["/bin/sh", "-c", "printf 'a\\nb\\nc\\n'"], cwd=tmp_path, env=os.environ, on_output=sink
    )
    await process.start()
    await process.wait()
    assert [o.lines for o in sink.outputs] == [["a", "b", "c"]]


async def test_exit_code_and_cwd_and_env(tmp_path: Path) -> None:
    sink = Collect()
    process = Process(
        ["/bin/sh", "-c", 'pwd; echo "$GREETING"; exit 3'],
        cwd=tmp_path,
        env={**os.environ, "GREETING": "hi"},
        on_output=sink,
    )
    await process.start()
    assert await process.wait() == 3
    assert sink.lines("stdout") == [str(tmp_path), "hi"]


async def test_missing_cwd_fails_to_start(tmp_path: Path) -> None:
    process = Process(["true"], cwd=tmp_path / "nope", env=os.environ, on_output=Collect())
    with pytest.raises(OSError):
        await process.start()


async def test_background_grandchild_cannot_hold_the_pipes(tmp_path: Path) -> None:
    sink = Collect()
    process = Process(
        ["/bin/sh", "-c", "sleep 300 & echo $!"],
        cwd=tmp_path,
        env=os.environ,
        on_output=sink,
        kill_grace=0.5,
    )
    await process.start()
    async with asyncio.timeout(10):
        assert await process.wait() == 0
    grandchild = int(sink.lines("stdout")[0])
    async with asyncio.timeout(5):
        while not gone(grandchild):
            await asyncio.sleep(0.01)


async def test_terminate_kills_the_tree_and_escalates_to_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    sink = Collect()
    process = Process(
        # The shell ignores SIGTERM, so only SIGKILL after the grace stops it.
        ["/bin/sh", "-c", f"trap '' TERM; sleep 300 & echo $! > {pid_file}; echo up; wait"],
        cwd=tmp_path,
        env=os.environ,
        on_output=sink,
        kill_grace=0.3,
    )
    await process.start()
    async with asyncio.timeout(5):
        while not sink.lines("stdout"):
            await asyncio.sleep(0.01)
    grandchild = int(pid_file.read_text())
    started = time.monotonic()
    async with asyncio.timeout(10):
        code = await process.terminate()
    assert code == -9
    assert time.monotonic() - started >= 0.3
    async with asyncio.timeout(5):
        while not gone(grandchild):
            await asyncio.sleep(0.01)
    # Terminating an ended process only returns its code.
    assert await process.terminate() == -9


async def test_a_failing_sink_stops_the_child(tmp_path: Path) -> None:
    async def broken(output: Output) -> None:
        raise RuntimeError("sink broke")

    process = Process(
        ["/bin/sh", "-c", "while :; do echo spam; done"],
        cwd=tmp_path,
        env=os.environ,
        on_output=broken,
        kill_grace=0.2,
    )
    await process.start()
    with pytest.raises(RuntimeError, match="sink broke"):
        async with asyncio.timeout(10):
            await process.wait()
