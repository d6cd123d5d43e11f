"""The floor of the million-line benchmark: the least work a job's lines need to be queryable.

    python bench/reference_pipeline.py DUCKDB_FILE [LINES]   # prints: rows seconds

A child process prints LINES lines of about 80 bytes (`GENERATOR`, the same program
`bench/pipeline.py` gives jobstream as its job's one step); this reads its stdout a MiB at
a time and inserts every complete line with the job, its number and its text into one
table of a DuckDB file, one `INSERT ... unnest` per read. No events, no log, no second
reader. It does what `shared/bench/reference_pipeline.py` of the project's brief does, so
the benchmark runs from a clone alone and stays comparable with that yardstick.
"""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb

GENERATOR = (
    "import sys; w=sys.stdout.write; [w('line %07d ' % i + 'x'*68 + chr(10)) for i in range({n})]"
)
"""The job's program: `GENERATOR.format(n=LINES)` for `python -c`."""

READ_SIZE = 1 << 20


def generator_argv(lines: int) -> list[str]:
    return [sys.executable, "-c", GENERATOR.format(n=lines)]


def load(path: str, lines: int) -> int:
    """Run the generator and insert its lines into `path`; returns the rows in the table."""
    conn = duckdb.connect(path)
    try:
        conn.execute("CREATE OR REPLACE TABLE lines (job VARCHAR, n BIGINT, text VARCHAR)")
        child = subprocess.Popen(generator_argv(lines), stdout=subprocess.PIPE)
        assert child.stdout is not None
        partial = b""
        written = 0
        while data := child.stdout.read(READ_SIZE):
            *complete, partial = (partial + data).split(b"\n")
            texts = [line.decode() for line in complete]
            conn.execute(
                "INSERT INTO lines SELECT 'job', unnest($n::BIGINT[]), unnest($t::VARCHAR[])",
                {"n": list(range(written, written + len(texts))), "t": texts},
            )
            written += len(texts)
        child.wait()
        (rows,) = conn.execute("SELECT count(*) FROM lines").fetchone() or (0,)
        return int(rows)
    finally:
        conn.close()


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__.splitlines()[2].strip())
    lines = int(sys.argv[2]) if len(sys.argv) == 3 else 1_000_000
    started = time.perf_counter()
    rows = load(sys.argv[1], lines)
    print(rows, f"{time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main()
