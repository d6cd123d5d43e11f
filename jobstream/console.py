"""How things look in a terminal: log lines, job records, tables."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from jobstream.events.models import LogChunk, LogLine, Status
from jobstream.projections.records import JobRecord, LogLineRow

__all__ = ["LivePrinter", "format_lines", "format_record", "format_table"]

_STREAM_STYLE = {"stdout": "", "stderr": "\x1b[31m", "system": "\x1b[36m"}
_RESET = "\x1b[0m"
_STATUS_STYLE = {
    "SUCCEEDED": "\x1b[32m",
    "FAILED": "\x1b[31m",
    "FAILING": "\x1b[33m",
    "CANCELLED": "\x1b[35m",
}


def format_lines(lines: Iterable[LogLine | LogLineRow], color: bool) -> str:
    """Lines as the terminal shows them: stderr red and system lines cyan when coloured."""
    return _format((line.stream, line.text) for line in lines) if color else _plain(lines)


def _plain(lines: Iterable[LogLine | LogLineRow]) -> str:
    return "".join(f"{line.text}\n" for line in lines)


def _format(pairs: Iterable[tuple[str, str]]) -> str:
    out = []
    for stream, text in pairs:
        style = _STREAM_STYLE[stream]
        out.append(f"{style}{text}{_RESET}\n" if style else f"{text}\n")
    return "".join(out)


class LivePrinter:
    """A Notifier that shows a running job in the terminal (`jobstream run`)."""

    def __init__(self, out: TextIO = sys.stdout, color: bool | None = None) -> None:
        self.out = out
        self.color = out.isatty() if color is None else color

    async def status_changed(
        self,
        status: Status,
        previous: Status | None,
        *,
        stage: str | None = None,
        reason: str | None = None,
    ) -> None:
        # Stages and failures already appear as system lines; terminal statuses are the
        # final record's job.
        return None

    async def log_write(self, chunk: LogChunk) -> None:
        # Straight from the chunk's runs: no LogLine built.
        self.out.write(_format(chunk.pairs()) if self.color else "\n".join(chunk.texts) + "\n")
        self.out.flush()

    async def completion(self, success: bool, status: Status, lines: int, bytes: int) -> None:
        return None


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def _duration(record: JobRecord) -> str:
    if record.started is None:
        return "-"
    end = record.ended or datetime.now(record.started.tzinfo)
    seconds = (end - record.started).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def _status(status: str, color: bool) -> str:
    style = _STATUS_STYLE.get(status) if color else None
    return f"{style}{status}{_RESET}" if style else status


def format_record(record: JobRecord, color: bool = False) -> str:
    rows = [
        ("job", record.job_id),
        ("name", f"{record.name or '-'} {record.version or ''}".rstrip()),
        ("status", _status(record.status.name, color)),
        ("reason", _text(record.reason)),
        ("stage", _text(record.stage)),
        ("submitted", _text(record.submitted)),
        ("started", _text(record.started)),
        ("ended", _text(record.ended)),
        ("duration", _duration(record)),
        ("lines", f"{record.lines} ({record.bytes} bytes)"),
        ("labels", _text(record.labels)),
        ("submitter", _text(record.submitter)),
        ("worker", _text(record.worker)),
    ]
    return "\n".join(f"{k:>10}  {v}" for k, v in rows if v != "-" or k in ("status", "ended"))


def format_table(records: Sequence[JobRecord], color: bool = False) -> str:
    header = ("JOB", "STATUS", "NAME", "SUBMITTED", "DURATION")
    rows = [
        (r.job_id[:12], r.status.name, r.name or "-", _text(r.submitted), _duration(r))
        for r in records
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        cells[1] = _status(row[1], color) + " " * (widths[1] - len(row[1]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
