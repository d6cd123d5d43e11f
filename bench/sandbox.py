"""The cost of the sandbox: submit-to-Completed latency, `sandbox` vs `host` builder.

    python bench/sandbox.py [--echo-jobs 50] [--lines 1000000]

For each builder, one `jobstream worker` on its own data directory; this process submits
to its embedded log and waits for each job's Completed event: N `echo` jobs one after the
other (p50, p99), then one job printing `--lines` lines of ~80 bytes. Both builders are
measured in the same run, so the figures compare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pipeline import GEN  # noqa: E402
from jobstream.dispatcher.submit import submission, submit  # noqa: E402
from jobstream.events.codec import decode  # noqa: E402
from jobstream.events.documents.models import JobDocument  # noqa: E402
from jobstream.events.documents.secrets import Keyring, SecretBox  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import Completed  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402

BUILDERS = ("sandbox", "host")


def _document(cmd: str) -> JobDocument:
    return JobDocument.model_validate(
        {
            "name": "bench",
            "sequence": [{"stage": "s"}],
            "stages": [{"name": "s", "steps": [{"action": "command", "cmd": cmd}]}],
        }
    )


async def _timings(data_dir: Path, documents: list[JobDocument]) -> list[float]:
    """Seconds from submission to Completed of each document, one job at a time."""
    topics = Topics()
    box = SecretBox(Keyring.generate())
    out = []
    async with (
        EmbeddedLog(data_dir / "log.sqlite") as log,
        log.consumer([topics.events], start="latest") as consumer,
    ):
        for document in documents:
            event = submission(document, box)
            started = time.perf_counter()
            await submit(log, topics, event)
            done = False
            while not done:
                records = await consumer.getmany(timeout=120)
                if not records:
                    raise TimeoutError("no Completed within 120 s")
                done = any(
                    r.key == event.job_id
                    and r.headers.get("type") == "Completed"
                    and isinstance(decode(r.value), Completed)
                    for r in records
                )
            out.append(time.perf_counter() - started)
    return out


def _measure(builder: str, echo_jobs: int, lines: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data), "JOBSTREAM_BUILDER": builder}
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            # The first job waits for the worker to start; it is not counted.
            warm_up = [_document("echo hi")]
            echo = [_document("echo hi") for _ in range(echo_jobs)]
            big = [_document(f'{sys.executable} -c "{GEN.format(n=lines)}"')]
            samples = asyncio.run(_timings(data, warm_up + echo + big))
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    return samples[1:-1], samples[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo-jobs", type=int, default=50)
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{'builder':8} {'echo p50':>10} {'echo p99':>10} {f'{args.lines:,} lines':>16}")
    for builder in BUILDERS:
        echo, big = _measure(builder, args.echo_jobs, args.lines)
        ms = sorted(s * 1000 for s in echo)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(f"{builder:8} {statistics.median(ms):8.1f}ms {p99:8.1f}ms {big:15.2f}s", flush=True)


if __name__ == "__main__":
    main()
