"""Benchmarks of the web page's log viewer, in headless Chromium (Playwright, the system
Chromium), against a `jobstream serve` in its own process (issue: a job page CI engineers
would use).

    python -m bench page [--sizes 100000 1000000] [--rate 10000] [--seconds 10]

1. A finished log of each size (written to the event log directly, as a job would have):
   from opening `/?job=ID` to its first screen of lines drawn (a first visit, then again),
   then from pressing "end" to the last line drawn on screen, then from moving the
   scrollbar to the middle to the lines there drawn; with the rows in the DOM.
2. Live follow: a running job gets `--rate` lines a second for `--seconds`, 1/10 s at a
   time, while the page follows it; the rate the page drew them at, and how long after
   each write its last line was on screen (median, max, the last write). The same stream
   read by a bare HTTP client (no browser) says what the server delivers. `--sizes` with
   no size runs only this.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
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


# Per animation frame, the highest line number drawn inside the log's visible box, with
# the wall clock (Date.now(), the same clock as the writer's time.time()) when it changed.
TRACK_DRAWN = """() => {
  window.benchDrawn = [];
  const box = document.getElementById('log');
  const frame = () => {
    const rows = box.querySelectorAll('.line.stdout, .line.stderr');
    const bottom = box.getBoundingClientRect().bottom + 1;
    let last = 0;
    for (let i = rows.length - 1; i >= 0; i--) {
      if (rows[i].getBoundingClientRect().bottom <= bottom) {
        last = Number(rows[i].dataset.n);
        break;
      }
    }
    const seen = window.benchDrawn;
    if (!seen.length || seen[seen.length - 1][1] !== last) seen.push([Date.now() / 1000, last]);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}"""


class Writer(threading.Thread):
    """Appends `rate` lines a second to a running job, a tenth of a second at a time;
    `written` holds (time.time(), last line number) of each append."""

    def __init__(self, job: BigJob, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.job, self.rate, self.seconds = job, rate, seconds
        self.written: list[tuple[float, int]] = []

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        settings = self.job.settings
        async with EmbeddedLog(settings.log_path, partitions=settings.partitions) as log:
            tick = time.perf_counter()
            for _ in range(round(self.seconds * 10)):
                await log.append(settings.topics.events, self.job.appended(self.rate // 10))
                self.written.append((time.time(), self.job.lines))
                tick += 0.1
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))


class ViewsWatch(threading.Thread):
    """Asks the API for the job's line count every 0.1 s: when the views held each write,
    the floor under the page's figure (the page cannot draw a line before the views hold
    it)."""

    def __init__(self, url: str, job_id: str) -> None:
        super().__init__(daemon=True)
        self.url, self.job_id = url, job_id
        self.seen: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.wait(0.1):
                lines = http.get(f"/jobs/{self.job_id}").json()["lines"]
                self.seen.append((time.time(), lines))


def delays(written: list[tuple[float, int]], drawn: list[tuple[float, int]]) -> list[float]:
    """For each append, the seconds until its last line was on screen."""
    out, i = [], 0
    for at, n in written:
        while drawn[i][1] < n:
            i += 1
        out.append(drawn[i][0] - at)
    return out


def live(browser, url: str, settings: Settings, http: httpx.Client, rate: int, secs: float):
    total = round(secs * 10) * (rate // 10)
    job = BigJob(settings, name="live").start()
    wait_lines(http, job.job_id, 0)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(f"{url}/?job={job.job_id}")
        page.get_by_text("following…").wait_for(timeout=60_000)
        page.evaluate(TRACK_DRAWN)
        writer = Writer(job, rate, secs)
        views = ViewsWatch(url, job.job_id)
        views.start()
        writer.start()
        page.wait_for_function(
            "(n) => window.benchDrawn.some((d) => d[1] >= n)", arg=total, timeout=600_000
        )
        writer.join()
        drawn = [(at, n) for at, n in page.evaluate("window.benchDrawn") if n]
        wait_lines(http, job.job_id, total)
        views.stop.set()
        views.join()
    finally:
        page.close()
    waits = delays(writer.written, drawn)
    held = delays(writer.written, views.seen)
    (first_at, first), (last_at, _) = writer.written[0], writer.written[-1]
    first_drawn = next(at for at, n in drawn if n >= first)
    print(
        f"live follow at {rate:,} lines/s for {secs:g}s ({total:,} lines): drawn at "
        f"{(total - first) / (drawn[-1][0] - first_drawn):,.0f} lines/s from the first "
        f"write's lines on screen to the last's ({total / (drawn[-1][0] - first_at):,.0f} "
        f"from the first write); written to on screen: median {statistics.median(waits):.2f}s, "
        f"max {max(waits):.2f}s, the last {drawn[-1][0] - last_at:.2f}s"
    )
    print(
        f"  written to held by the views (the floor, asked every 0.1 s): median "
        f"{statistics.median(held):.2f}s, max {max(held):.2f}s; the page's median delay "
        f"over the views' {statistics.median(waits) - statistics.median(held):+.2f}s"
    )
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
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
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
