"""What `jobstream run` prints of a running job: the lines as `format_lines` shows them."""

from __future__ import annotations

import io

import pytest

from jobstream.console import LivePrinter, Terminal, format_lines
from jobstream.events.models import LineRun, LogChunk

AT = "2026-12-02T06:00:00.000000Z"
RUNS: list[LineRun] = [
    ("stdout", AT, ["plain", "\x1b[32mgreen\x1b[0m", ""]),
    ("stderr", AT, ["oops", "again"]),
    ("system", AT, ["==> exit code 0"]),
    # An OSC title left open on one line must not take the next line with it.
    ("stdout", AT, ["\x1b]0;title", "kept\x07 after", "last"]),
]


@pytest.mark.parametrize(
    "terminal",
    [Terminal(), Terminal(color=True, escapes=True), Terminal(escapes=True)],
    ids=["pipe", "tty", "no-color-tty"],
)
async def test_live_lines_print_as_format_lines_shows_them(terminal: Terminal) -> None:
    count = sum(len(texts) for _, _, texts in RUNS)
    chunk = LogChunk(1, RUNS, count, 0)
    out = io.StringIO()
    await LivePrinter(out, terminal).log_write(chunk)
    assert out.getvalue() == format_lines(list(chunk), terminal)


async def test_a_pipe_gets_no_escape_sequences() -> None:
    out = io.StringIO()
    await LivePrinter(out, Terminal()).log_write(LogChunk(1, RUNS[:2], 5, 0))
    assert out.getvalue() == "plain\ngreen\n\noops\nagain\n"
