"""Start-up time of the command line (not a test).

Runs each command RUNS times, interleaved with `python -c pass` on the same interpreter
(so both see the same machine load), and prints the median wall time of each, what it
adds over bare Python, the ratio, and the CPU time it adds (steadier than wall time on a
busy machine). The target (issue 11): under 0.3 s added for `--help`, and for `list`
answered by a running server. The server is a `jobstream project` on a free port in a
temporary data directory, with one job run; the "no server" rows open the views
themselves after it stops.

Python writes its bytecode cache as it would for a user (PYTHONDONTWRITEBYTECODE is
dropped), and every command runs once before timing starts.

`--peer PYTHON` also runs `--help` and the server's queries with another installation's
interpreter (another checkout's venv, say), interleaved with these: a before/after
comparison that the machine's load does not skew, since both see the same load.

usage: .venv/bin/python bench/cli_startup.py [RUNS] [--peer PYTHON]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "minimal.yml"

QUERIES = {
    "list": ["list"],
    "show": ["show", "{job}"],
    "status": ["status", "{job}"],
    "log": ["log", "{job}"],
}
BARE = "python -c pass"


def _measure(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of `argv`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


def _round(
    commands: dict[str, list[str]],
    env: dict[str, str],
    cwd: Path,
    runs: int,
    results: dict[str, list[tuple[float, float]]],
) -> None:
    for argv in commands.values():  # warm the bytecode cache and the page cache
        _measure(argv, env, cwd)
    for _ in range(runs):
        for name, argv in commands.items():
            results.setdefault(name, []).append(_measure(argv, env, cwd))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=9, help="timed runs of each")
    parser.add_argument("--peer", type=Path, help="another installation's python to compare")
    given = parser.parse_args()
    runs = given.runs
    jobstream = [sys.executable, "-m", "jobstream"]
    bare = [sys.executable, "-c", "pass"]
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("JOBSTREAM_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env |= {"JOBSTREAM_DATA_DIR": str(cwd / "data"), "JOBSTREAM_PORT": "0"}
        subprocess.run([*jobstream, "run", str(EXAMPLE)], env=env, cwd=cwd, capture_output=True)
        listed = subprocess.run(
            [*jobstream, "list", "--json"], env=env, cwd=cwd, capture_output=True, text=True
        )
        job = listed.stdout.split('"job_id": "')[1][:8]

        def queries(suffix: str, command: list[str] = jobstream) -> dict[str, list[str]]:
            return {
                f"{name} ({suffix})": [*command, *(a.format(job=job) for a in args)]
                for name, args in QUERIES.items()
            }

        server = subprocess.Popen(
            [*jobstream, "project"], env=env, cwd=cwd, stderr=subprocess.DEVNULL
        )
        try:
            while not (cwd / "data" / "server.json").exists():
                if server.poll() is not None:
                    raise SystemExit("jobstream project did not start")
                time.sleep(0.1)
            remote = {BARE: bare, "--help": [*jobstream, "--help"], **queries("server")}
            if given.peer is not None:
                peer = [str(given.peer), "-m", "jobstream"]
                remote |= {"--help (peer)": [*peer, "--help"], **queries("server, peer", peer)}
            _round(remote, env, cwd, runs, results)
        finally:
            server.terminate()
            server.wait()
        _round({BARE: bare, **queries("no server")}, env, cwd, runs, results)

    base_wall = statistics.median(w for w, _ in results[BARE])
    base_cpu = statistics.median(c for _, c in results[BARE])
    print(f"{'command':<24} {'median s':>9} {'added ms':>9} {'ratio':>6} {'CPU added ms':>13}")
    for name, samples in results.items():
        wall = statistics.median(w for w, _ in samples)
        cpu = statistics.median(c for _, c in samples)
        print(
            f"{name:<24} {wall:>9.3f} {(wall - base_wall) * 1000:>9.0f} "
            f"{wall / base_wall:>6.1f} {(cpu - base_cpu) * 1000:>13.0f}"
        )
    print(f"({runs} runs each, interleaved; bare Python measured in both rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
