"""Rebuild the views from offset 0 into a new file, check it, and swap it in."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import duckdb
from pydantic import BaseModel

from jobstream.events.log.base import EventLog
from jobstream.projections.host import ViewsHost
from jobstream.projections.runner import Progress
from jobstream.projections.schema import TABLES
from jobstream.projections.views import DuckDBViews

__all__ = [
    "REPLAY_BATCH_BYTES",
    "REPLAY_THREADS",
    "ReplayResult",
    "replay",
    "replay_path",
    "swap",
    "verify",
]

_SHOWN = 5
"""Differing rows shown per table and direction."""

REPLAY_BATCH_BYTES = 32 << 20
"""Bytes of values per replay transaction: 4x the live runner's (BATCH_BYTES). A DuckDB
commit of fewer rows than a row group (122,880) goes to the WAL and is written again when
the WAL is checkpointed; 32 MiB of LogAppended is about 300,000 lines, so most rows are
written once, straight into row groups, and the per-batch costs (job rows, applied seqs,
the commit) are paid a quarter as often. Measured on the benchmark workload: the apply's
CPU 8.5 s at 8 MiB, 5.7 s at 32 MiB, 5.1 s at 64 MiB (bench/replay_floor.py)."""

REPLAY_THREADS = 1
"""DuckDB threads of the replay's connection. A replay's statements are many and short (a
parse and an insert per 32 MiB batch), and the log is read on another thread meanwhile:
DuckDB's default (one per core) spent more CPU coordinating its workers than it saved.
Measured on the benchmark workload, three alternating pairs in one process (load average
3.6-5.4 on 2 cores): 8.44/7.98/7.92 s CPU with the default, 7.49/7.15/6.69 s with one thread,
and the wall time was lower with one thread in each pair (13.3/11.1/7.1 s against
11.6/6.6/5.8 s)."""


class ReplayResult(BaseModel):
    path: Path
    events: int
    seconds: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def replay_path(live: Path) -> Path:
    """Where a replay of `live` is built: `<name>.replay.duckdb` beside it."""
    return live.with_name(f"{live.stem}.replay.duckdb")


async def replay(
    log: EventLog,
    topics: list[str],
    target: Path,
    *,
    progress: Progress | None = None,
    name: str = "views",
    batch: int = 100_000,
    batch_bytes: int = REPLAY_BATCH_BYTES,
) -> ReplayResult:
    """Rebuild the views of `topics` into `replay_path(target)`, up to the ends of the log
    at the start, through the same runner as the live views. The live file is not touched:
    `swap` puts the result in its place."""
    path = replay_path(target)
    _remove(path)
    views = await asyncio.to_thread(_open, path)
    reader = ViewsHost(log, views, topics, name=name, batch=batch, batch_bytes=batch_bytes)
    try:
        start = time.perf_counter()
        events = await reader.run_until_caught_up(progress=progress)
        seconds = time.perf_counter() - start
    finally:
        await reader.close()
        await asyncio.to_thread(views.close)
    return ReplayResult(path=path, events=events, seconds=seconds)


def _open(path: Path) -> DuckDBViews:
    views = DuckDBViews.open(path)
    views.conn.execute(f"SET threads = {REPLAY_THREADS}")
    return views


def swap(new: Path, live: Path) -> None:
    """Put the closed database `new` in place of `live` atomically (os.replace).

    The live file's `.wal` belongs to the old database: it is removed first, or DuckDB would
    replay it onto the new file."""
    _remove(Path(f"{live}.wal"))
    os.replace(new, live)


def verify(live_path: Path, rebuilt_path: Path) -> list[str]:
    """Every difference between the two databases' view tables, compared row for row both
    ways (multisets, so duplicates count); empty when they are equal."""
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(f"ATTACH '{_quote(live_path)}' AS live (READ_ONLY)")
        conn.execute(f"ATTACH '{_quote(rebuilt_path)}' AS rebuilt (READ_ONLY)")
        problems: list[str] = []
        for table, columns in TABLES.items():
            cols = ", ".join(columns)
            for a, b in (("live", "rebuilt"), ("rebuilt", "live")):
                sql = f"SELECT {cols} FROM {a}.{table} EXCEPT ALL SELECT {cols} FROM {b}.{table}"
                count = conn.execute(f"SELECT count(*) FROM ({sql})").fetchone()
                missing = count[0] if count else 0
                if not missing:
                    continue
                problems.append(f"{table}: {missing} row(s) in {a} but not in {b}")
                for row in conn.execute(f"{sql} LIMIT {_SHOWN}").fetchall():
                    problems.append(f"  {a}: {row!r}")
        return problems
    finally:
        conn.close()


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}.wal")):
        p.unlink(missing_ok=True)
