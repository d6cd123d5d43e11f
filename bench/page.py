"""Benchmarks of the web page's log viewer, in headless Chromium (Playwright, the system
Chromium), against a `jobstream serve` in its own process (issue: a job page CI engineers
would use).

    python -m bench page [--sizes 100000 1000000] [--rate 10000] [--seconds 10]

1. A finished log of each size (written to the event log directly, as a job would have):
   from opening `/?job=ID` to its first screen of lines drawn (a first visit, then again),
   then from pressing "end" to the last line drawn on screen, then from moving the
   scrollbar to the middle to the lines there drawn; with the rows in the DOM.
2. Live follow: a running job gets `--rate` lines a second for `--seconds`, 1/10 s at a
   time, while the page follows it; the rate the page drew them at, and how long after the
   last write the last line was on screen. The same stream read by a bare HTTP client
   (no browser) says what the server delivers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobstream import runtime  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.settings import Settings  # noqa: E402
from tests.api.web_support import BigJob, chromium, finished_job  # noqa: E402

VIEWPORT = {"width": 1200, "height": 900}

ON_SCREEN = """(n) => {
  const row = document.querySelector(`#log .line[data-n='${n}']`);
  if (!row || row.classList.contains('pending')) return false;
  const box = document.getElementById('log').getBoundingClientRect();
  const r = row.getBoundingClientRect();
  return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
}"""

MIDDLE_DRAWN = """(total) => {
  const rows = [...document.querySelectorAll('#log .line.stdout, #log .line.stderr')];
  return rows.some((r) => Math.abs(Number(r.dataset.n) - total / 2) < 100);
}"""


def serve(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data), "JOBSTREAM_PORT": "0"}
    env.pop("JOBSTREAM_SERVER", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "serve"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while (info := runtime.discover(data)) is None:
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("jobstream serve did not start")
        time.sleep(0.1)
    return server, info.url


def wait_lines(http: httpx.Client, job_id: str, lines: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(f"/jobs/{job_id}")
        if response.status_code == 200 and response.json()["lines"] >= lines:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the views did not show {lines:,} lines of {job_id}")
        time.sleep(0.2)


def finished(browser, url: str, settings: Settings, http: httpx.Client, size: int) -> None:
    started = time.perf_counter()
    job = finished_job(settings, size, stderr_every=7, name=f"log-{size}")
    wait_lines(http, job.job_id, size)
    print(f"{size:,} lines: written and projected in {time.perf_counter() - started:.1f}s")
    # Opened twice: the first visit also pays for a fresh page (script compiled, connection
    # opened), the second is a user opening one more job.
    for visit in ("first visit", "again"):
        page = browser.new_page(viewport=VIEWPORT)
        started = time.perf_counter()
        page.goto(f"{url}/?job={job.job_id}")
        page.wait_for_function(ON_SCREEN, arg=1, timeout=120_000, polling="raf")
        first = time.perf_counter() - started
        print(f"  first screen ({visit}) {first:.2f}s")
        if visit == "first visit":
            page.close()
    try:
        started = time.perf_counter()
        page.click("#log-end")
        page.wait_for_function(ON_SCREEN, arg=size, timeout=120_000, polling="raf")
        end = time.perf_counter() - started
        started = time.perf_counter()
        page.evaluate(
            "(() => { const b = document.getElementById('log'); "
            "b.scrollTop = (b.scrollHeight - b.clientHeight) / 2; })()"
        )
        page.wait_for_function(MIDDLE_DRAWN, arg=size, timeout=120_000, polling="raf")
        middle = time.perf_counter() - started
        rows = page.locator("#log .line").count()
        print(
            f"  scroll to end {end:.2f}s, jump to the middle {middle:.2f}s; {rows} rows in the DOM"
        )
    finally:
        page.close()


class Writer(threading.Thread):
    """Appends `rate` lines a second to a running job, a tenth of a second at a time."""

    def __init__(self, job: BigJob, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.job, self.rate, self.seconds = job, rate, seconds
        self.done_at = 0.0

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        settings = self.job.settings
        async with EmbeddedLog(settings.log_path, partitions=settings.partitions) as log:
            tick = time.perf_counter()
            for _ in range(round(self.seconds * 10)):
                await log.append(settings.topics.events, self.job.appended(self.rate // 10))
                tick += 0.1
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))
        self.done_at = time.perf_counter()


def live(browser, url: str, settings: Settings, http: httpx.Client, rate: int, secs: float):
    total = round(secs * 10) * (rate // 10)
    job = BigJob(settings, name="live").start()
    wait_lines(http, job.job_id, 0)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{url}/?job={job.job_id}")
        page.get_by_text("following…").wait_for(timeout=60_000)
        writer = Writer(job, rate, secs)
        started = time.perf_counter()
        writer.start()
        page.wait_for_function(ON_SCREEN, arg=total, timeout=600_000, polling="raf")
        drawn = time.perf_counter()
        writer.join()
        print(
            f"live follow at {rate:,} lines/s for {secs:g}s: {total:,} lines drawn at "
            f"{total / (drawn - started):,.0f} lines/s; the last on screen "
            f"{drawn - writer.done_at:.2f}s after it was written"
        )
    finally:
        page.close()
    # The same lines again through a bare client: what the server delivers.
    for batch in (False, True):
        took = sse_read(http, job.job_id, total, batch)
        kind = "a line per event (the CLI's)" if not batch else "batches (the page's)"
        print(
            f"  SSE to a bare client, {kind}: {total:,} lines in {took:.2f}s "
            f"({total / took:,.0f} lines/s)"
        )


def sse_read(http: httpx.Client, job_id: str, total: int, batch: bool) -> float:
    started = time.perf_counter()
    params = {"batch": "true"} if batch else {}
    with http.stream("GET", f"/jobs/{job_id}/log/stream", params=params, timeout=None) as r:
        for raw in r.iter_lines():
            if raw.startswith("id:") and int(raw[3:]) >= total:
                break
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rate", type=int, default=10_000, help="live lines per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="of live lines")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        settings = Settings(data_dir=data)
        server, url = serve(data)
        try:
            with httpx.Client(base_url=url, timeout=60) as http, chromium() as browser:
                for size in args.sizes:
                    finished(browser, url, settings, http, size)
                live(browser, url, settings, http, args.rate, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
