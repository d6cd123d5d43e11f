"""Clients that leave a log stream early leave no trace in the server's log: the stream
stops writing to their socket (no asyncio "socket.send() raised exception" warnings)."""

from __future__ import annotations

import socket
import urllib.parse
from pathlib import Path

import httpx

from jobstream import runtime
from tests.jobstream.cli_support import Cli
from tests.polling import eventually


def test_clients_leaving_a_live_stream_cause_no_send_warnings(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    try:
        server = cli.start("--log-level", "INFO", "serve")
        info = eventually(lambda: runtime.discover(cli.data_dir), timeout=30)
        job = tmp_path / "slow.yml"
        job.write_text(
            "name: slow\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
            "      - {action: command, "
            "cmd: 'for i in $(seq 1 400); do echo line $i; sleep 0.01; done'}\n"
        )
        job_id = cli("submit", str(job)).stdout.strip()
        url = urllib.parse.urlparse(info.url)
        for _ in range(3):  # read the start of the stream, then hang up
            with socket.create_connection((url.hostname, url.port)) as s:
                s.sendall(
                    f"GET /jobs/{job_id}/log/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
                )
                s.recv(1000)
        with httpx.stream("GET", f"{info.url}/jobs/{job_id}/log/stream") as response:
            for i, _ in enumerate(response.iter_lines()):
                if i > 20:
                    break
        eventually(lambda: cli("status", job_id).stdout.strip() == "SUCCEEDED", timeout=60)
        server.terminate()
        _, err = server.communicate(timeout=30)
    finally:
        cli.stop_all()
    assert f"job {job_id} ended SUCCEEDED" in err  # the log is the server's, at INFO
    assert "socket.send() raised exception" not in err
