"""How things look in a terminal: log lines, job records, tables, times and durations,
and the JSON or YAML a script asks for (`-o json|yaml`).

Colour follows the usual conventions: `--color always|never` wins, then `NO_COLOR` (no
colour of ours), then `FORCE_COLOR`, then whether standard output is a terminal. The job's
own escape sequences are kept on a terminal (or when colour is forced) and stripped when
the output goes to a pipe or a file, so a log saved by `jobstream log ID > file` is text.
Times are shown in UTC, with the zone, as the API takes and gives them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TextIO

if TYPE_CHECKING:
    from jobstream.events.models import LineRun, LogChunk, LogLine, Status
    from jobstream.projections.records import JobRecord, LogLineRow
    from jobstream.runners.notifier import Section
    from jobstream.service.base import JobSteps

__all__ = [
    "ColorChoice",
    "LivePrinter",
    "OutputFormat",
    "Terminal",
    "format_duration",
    "format_lines",
    "format_record",
    "format_stages",
    "format_table",
    "format_time",
    "render",
    "strip_escapes",
]

ColorChoice = Literal["auto", "always", "never"]
OutputFormat = Literal["table", "json", "yaml"]

_STREAM_STYLE = {"stdout": "", "stderr": "\x1b[31m", "system": "\x1b[36m"}
_RESET = "\x1b[0m"
_STATUS_STYLE = {
    "SUCCEEDED": "\x1b[32m",
    "FAILED": "\x1b[31m",
    "RUNNING": "\x1b[33m",
    "FAILING": "\x1b[33m",
    "CANCELLED": "\x1b[35m",
}
# CSI (colours, cursor moves), OSC (titles, links) and the two-byte escapes.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def strip_escapes(text: str) -> str:
    return _ESCAPES.sub("", text)


@dataclass(frozen=True)
class Terminal:
    """What the output can take: `color`, jobstream's own styling; `escapes`, the job's
    own escape sequences passed through."""

    color: bool = False
    escapes: bool = False

    @classmethod
    def detect(
        cls,
        choice: ColorChoice = "auto",
        stream: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Terminal:
        environ = os.environ if environ is None else environ
        stream = sys.stdout if stream is None else stream
        if choice != "auto":
            return cls(color=choice == "always", escapes=choice == "always")
        tty = stream.isatty()
        forced = bool(environ.get("FORCE_COLOR"))
        # NO_COLOR (https://no-color.org) asks for no colour *added*; the job's own stays.
        color = not environ.get("NO_COLOR") and (forced or tty)
        return cls(color=color, escapes=forced or tty)

    def text(self, text: str) -> str:
        """A line of the job's output as this terminal should get it."""
        return text if self.escapes else strip_escapes(text)


def format_lines(
    lines: Iterable[LogLine | LogLineRow], terminal: Terminal, *, timestamps: bool = False
) -> str:
    """Lines as the terminal shows them: stderr red and system lines cyan when coloured;
    with `timestamps`, each after the time it was read (`format_time`, to the
    millisecond)."""
    if not timestamps:
        return _format(((line.stream, line.text) for line in lines), terminal)
    return "".join(
        f"{format_time(line.at, precise=True)} {_format([(line.stream, line.text)], terminal)}"
        for line in lines
    )


def _format(pairs: Iterable[tuple[str, str]], terminal: Terminal) -> str:
    out = []
    for stream, text in pairs:
        text = terminal.text(text)
        style = _STREAM_STYLE[stream] if terminal.color else ""
        out.append(f"{style}{text}{_RESET}\n" if style else f"{text}\n")
    return "".join(out)


def _format_runs(runs: Iterable[LineRun], terminal: Terminal) -> str:
    """What `_format` makes of the runs' lines, a run at a time: one join and one search
    for an escape per run rather than a regex pass per line (a tenth of the CPU of a
    million-line `jobstream run`). A run holding an escape goes line by line, as an
    unterminated OSC must not swallow the lines after it."""
    out = []
    for stream, _, texts in runs:
        if not texts:
            continue
        plain = "\n".join(texts)
        style = _STREAM_STYLE[stream] if terminal.color else ""
        if not terminal.escapes and "\x1b" in plain:
            out.append(_format(((stream, text) for text in texts), terminal))
        elif style:
            out.append(style + f"{_RESET}\n{style}".join(texts) + f"{_RESET}\n")
        else:
            out.append(f"{plain}\n")
    return "".join(out)


class LivePrinter:
    """A Notifier that shows a running job in the terminal (`jobstream run`)."""

    def __init__(self, out: TextIO | None = None, terminal: Terminal | None = None) -> None:
        self.out = sys.stdout if out is None else out
        self.terminal = Terminal.detect(stream=self.out) if terminal is None else terminal

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
        self.out.write(_format_runs(chunk.runs, self.terminal))
        self.out.flush()

    async def completion(
        self, success: bool, status: Status, lines: int, bytes: int, exit_status: int | None = None
    ) -> None:
        return None

    async def section(self, mark: Section) -> None:
        # Stages and steps show as their system lines (`==> stage build`, `$ make`) already.
        return None


def format_time(value: datetime, *, precise: bool = False) -> str:
    """`2026-12-01 21:13:44 UTC` (`precise`: `2026-12-01 21:13:44.031 UTC`): the zone the
    API uses (`since`, `until`, every time)."""
    value = value.astimezone(UTC)
    if precise:
        return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d} UTC"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(seconds: float) -> str:
    """`0.42 s`, `12.3 s`, `3 m 05 s`, `2 h 04 m`: as precise as a reader needs."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def _duration(record: JobRecord) -> str:
    if record.started is None:
        return "-"
    end = record.ended or datetime.now(record.started.tzinfo)
    return format_duration((end - record.started).total_seconds())


def _status(status: str, terminal: Terminal) -> str:
    style = _STATUS_STYLE.get(status) if terminal.color else None
    return f"{style}{status}{_RESET}" if style else status


def format_record(record: JobRecord, terminal: Terminal | None = None) -> str:
    terminal = terminal or Terminal()
    rows = [
        ("job", record.job_id),
        ("name", f"{record.name or '-'} {record.version or ''}".rstrip()),
        ("status", _status(record.status.name, terminal)),
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


def format_stages(steps: JobSteps, terminal: Terminal | None = None) -> str:
    """Each stage run with its status, duration and lines, its steps indented below it;
    empty for a job whose log has no stage events."""
    terminal = terminal or Terminal()
    rows: list[tuple[str, str, str, str, str]] = []
    for stage in steps.stages:
        rows.append((stage.name, stage.status, _took(stage.duration_s), "", _range(stage)))
        for step in stage.steps:
            code = "" if step.exit_code is None else f"exit {step.exit_code}"
            rows.append(
                ("  " + step.title, step.status, _took(step.duration_s), code, _range(step))
            )
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["    stages"]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        cells[1] = _status(row[1], terminal) + " " * (widths[1] - len(row[1]))
        lines.append(("      " + "  ".join([*cells, row[4]])).rstrip())
    return "\n".join(lines)


def _took(seconds: float | None) -> str:
    return "running" if seconds is None else format_duration(seconds)


def _range(section: Any) -> str:
    """`lines 3-9`, `line 3`, `from line 3` (still running), or nothing (none written)."""
    first, last = section.first_line, section.last_line
    if first is None:
        return ""
    if last is None:
        return f"from line {first}"
    return f"line {first}" if first == last else f"lines {first}-{last}"


def format_table(records: Sequence[JobRecord], terminal: Terminal | None = None) -> str:
    terminal = terminal or Terminal()
    header = ("JOB", "STATUS", "NAME", "SUBMITTED", "DURATION")
    rows = [
        (r.job_id[:12], r.status.name, r.name or "-", _text(r.submitted), _duration(r))
        for r in records
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        cells[1] = _status(row[1], terminal) + " " * (widths[1] - len(row[1]))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render(data: Any, output: Literal["json", "yaml"]) -> str:
    """`data` (what a model's `model_dump(mode="json")` gives: times as ISO 8601 with their
    zone, durations in seconds) as JSON or YAML, for scripts to read."""
    if output == "json":
        import json

        return json.dumps(data, indent=2, ensure_ascii=False)
    import yaml  # only when asked for: about 20 ms

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n")
