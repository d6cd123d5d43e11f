"""Start-up time of the command line (not a test).

Runs each command RUNS times, interleaved with `python -c pass` on the same interpreter,
and prints the median wall time of each and what it adds over bare Python. The target
(issue 11): under 0.3 s added for `--help`, and for `list` answered by a running server.
The server is a `serve` on a free port in a temporary data directory, with one job run.

usage: .venv/bin/python bench/cli_startup.py [RUNS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "minimal.yml"

COMMANDS = {
    "--help": ["--help"],
    "lint": ["lint", str(EXAMPLE)],
    "list (server)": ["list"],
    "show (server)": ["show", "{job}"],
    "status (server)": ["status", "{job}"],
    "log (server)": ["log", "{job}"],
    "list (no server)": ["list"],
}


def _wall(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    jobstream = [sys.executable, "-m", "jobstream"]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSTREAM_")}
        env |= {"JOBSTREAM_DATA_DIR": str(cwd / "data"), "JOBSTREAM_PORT": "0"}
        subprocess.run([*jobstream, "run", str(EXAMPLE)], env=env, cwd=cwd, capture_output=True)
        listed = subprocess.run(
            [*jobstream, "list", "--json"], env=env, cwd=cwd, capture_output=True, text=True
        )
        job = listed.stdout.split('"job_id": "')[1][:8]
        local = {"list (no server)"}
        results: dict[str, list[float]] = {"python -c pass": []}
        server = subprocess.Popen(
            [*jobstream, "serve"], env=env, cwd=cwd, stderr=subprocess.DEVNULL
        )
        try:
            while not (cwd / "data" / "server.json").exists():
                time.sleep(0.1)
            for _ in range(runs):
                results["python -c pass"].append(_wall([sys.executable, "-c", "pass"], env, cwd))
                for name, args in COMMANDS.items():
                    if name in local:
                        continue
                    argv = [*jobstream, *(a.format(job=job) for a in args)]
                    results.setdefault(name, []).append(_wall(argv, env, cwd))
        finally:
            server.terminate()
            server.wait()
        for _ in range(runs):
            for name in local:
                results.setdefault(name, []).append(_wall([*jobstream, "list"], env, cwd))
    bare = statistics.median(results["python -c pass"])
    print(f"{'command':<20} {'median s':>9} {'added s':>8}   ({runs} runs each)")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<20} {median:>9.3f} {median - bare:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
