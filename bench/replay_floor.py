"""`jobstream replay` against its floor, in CPU and wall time (issue 13; not a test).

Fills an embedded log with the shared workload (`bench.workload`: 2,000 jobs x 55 events,
2.0M log lines) in a data directory, runs the floor once untimed, then, alternating so
both see the same load:

- the floor: a process that reads the same rows from the log's SQLite file (on a thread of
  its own, page by page) and writes them into a fresh DuckDB file by the fastest bare
  method: DuckDB parses the raw event JSON itself (`from_json` over an Arrow column), one
  `INSERT ... unnest` into `log_lines` per page, one `job_records` row per job at the end,
  one commit. No events, no checks, no checkpoints;
- `jobstream replay` (the whole process, as a user runs it).

Both are timed as whole processes: wall time, and CPU (user + system) from the child's own
rusage (`os.wait4`). Then `jobstream replay --verify` must say the views match the log.

usage: python bench/replay_floor.py [--jobs 2000] [--rounds 3]
       python bench/replay_floor.py --floor LOG DUCKDB   (the floor process itself)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = 4_000
"""Records per page read from SQLite and inserted at once (about 8 MiB of values, what a
replay batch holds)."""

# What the floor parses of an event: the job and its lines (NULL for events without lines).
_LINES_TYPE = (
    '{"job_id": "VARCHAR", "lines": [{"n": "BIGINT", "at": "TIMESTAMPTZ", '
    '"stream": "VARCHAR", "text": "VARCHAR"}]}'
)
_INSERT_PAGE = f"""
INSERT INTO log_lines (job_id, n, "at", stream, text)
SELECT e.job_id, x.n, x.at, x.stream, x.text
FROM (
    SELECT e, unnest(e.lines) AS x
    FROM (SELECT from_json(value, '{_LINES_TYPE}') AS e FROM page)
)
"""
_JOBS = """
INSERT INTO floor_jobs
SELECT job_id, count(*), sum(strlen(text)), max(n) FROM log_lines GROUP BY job_id
"""


def _pages(log: Path, out: queue.Queue[list[str] | None]) -> None:
    """Every record's value in log order, PAGE at a time, into `out` (None at the end)."""
    db = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    try:
        cursor = db.execute('SELECT value FROM records ORDER BY topic, "partition", "offset"')
        while rows := cursor.fetchmany(PAGE):
            out.put([value.decode() for (value,) in rows])
    finally:
        db.close()
        out.put(None)


def floor(log: Path, target: Path) -> int:
    """The floor process: returns the lines written."""
    import duckdb
    import pyarrow as pa

    from jobstream.projections.schema import LOG_LINE_POS, LOG_LINES

    pages: queue.Queue[list[str] | None] = queue.Queue(maxsize=2)
    reader = threading.Thread(target=_pages, args=(log, pages), daemon=True)
    reader.start()
    conn = duckdb.connect(str(target))
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(f"CREATE SEQUENCE {LOG_LINE_POS}; {LOG_LINES.ddl}")
    conn.execute(
        "CREATE TABLE floor_jobs (job_id VARCHAR PRIMARY KEY, lines BIGINT, bytes BIGINT, "
        "last_line BIGINT)"
    )
    conn.begin()
    while (values := pages.get()) is not None:
        page = pa.table({"value": pa.array(values, pa.string())})  # noqa: F841 (read by name)
        conn.execute(_INSERT_PAGE)
    conn.execute(_JOBS)
    conn.commit()
    (lines,) = conn.execute("SELECT count(*) FROM log_lines").fetchone() or (0,)
    conn.close()
    reader.join()
    return int(lines)


def _timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Run `argv` to the end: wall seconds, CPU seconds and peak RSS (MiB) of the process,
    and its stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code:
        raise SystemExit(f"{argv} failed ({code}):\n{out}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024, out


async def _fill(log_path: Path, jobs: int) -> tuple[int, int]:
    from bench.workload import CHUNKS_PER_JOB, LINES_PER_CHUNK, workload
    from jobstream.events.log.embedded import EmbeddedLog
    from jobstream.events.names import Topics

    events = 0
    async with EmbeddedLog(log_path) as log:
        for topic, messages in workload(Topics(), jobs):
            await log.append(topic, messages)
            events += len(messages)
    return events, jobs * CHUNKS_PER_JOB * LINES_PER_CHUNK


def _load() -> str:
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def main(jobs: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        log = data / "log.sqlite"
        events, lines = asyncio.run(_fill(log, jobs))
        print(f"workload: {jobs:,} jobs, {events:,} events, {lines:,} lines; {_load()}")
        env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data)}
        cli = [sys.executable, "-m", "jobstream", "replay"]
        # One floor untimed first: the first process to read the fresh log cost 1-2 s more
        # CPU than the same one later, whichever it was, which flattered replay's ratio.
        warm = Path(tmp) / "warm.duckdb"
        _timed([sys.executable, __file__, "--floor", str(log), str(warm)])
        warm.unlink()
        ratios: list[tuple[float, float]] = []
        for k in range(rounds):
            target = Path(tmp) / f"floor{k}.duckdb"
            f_wall, f_cpu, f_rss, out = _timed(
                [sys.executable, __file__, "--floor", str(log), str(target)]
            )
            assert int(out) == lines, out
            target.unlink()
            r_wall, r_cpu, r_rss, out = _timed(cli, env)
            assert f"replayed {events:,} events" in out, out
            ratios.append((r_wall / f_wall, r_cpu / f_cpu))
            print(
                f"round {k + 1}: floor {f_wall:.2f} s wall, {f_cpu:.2f} s CPU, {f_rss} MiB; "
                f"replay {r_wall:.2f} s wall, {r_cpu:.2f} s CPU, {r_rss} MiB; "
                f"ratio {r_wall / f_wall:.2f}x wall, {r_cpu / f_cpu:.2f}x CPU; {_load()}"
            )
        wall, _, _, out = _timed([*cli, "--verify"], env)
        verdict = out.strip().splitlines()[-1]
        print(f"replay --verify: {verdict} ({wall:.2f} s)")
        walls, cpus = sorted(w for w, _ in ratios), sorted(c for _, c in ratios)
        print(
            f"over {rounds} rounds: replay/floor {cpus[0]:.2f}-{cpus[-1]:.2f}x CPU, "
            f"{walls[0]:.2f}-{walls[-1]:.2f}x wall (target <= 1.3x)"
        )
        if verdict != "views match the log":
            raise SystemExit("the rebuilt views differ")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floor", nargs=2, metavar=("LOG", "DUCKDB"))
    args = parser.parse_args()
    if args.floor:
        print(floor(Path(args.floor[0]), Path(args.floor[1])))
    else:
        main(args.jobs, args.rounds)
