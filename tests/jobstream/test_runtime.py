"""The runtime file as another container or a wildcard-bound server leaves it."""

from __future__ import annotations

import os
from pathlib import Path

from jobstream import runtime
from tests.polling import eventually

from .cli_support import Cli


def test_a_file_from_another_host_is_ignored_even_if_its_pid_is_alive(tmp_path: Path) -> None:
    info = runtime.write(tmp_path, "http://127.0.0.1:9")
    assert runtime.discover(tmp_path) == info
    # As a projector in another container writes it on a shared volume: its pid (often 1)
    # is alive here too, but names some other process.
    other = info.model_copy(update={"hostname": "projector-container", "pid": os.getpid()})
    (tmp_path / runtime.RUNTIME_FILE).write_text(other.model_dump_json())
    assert runtime.discover(tmp_path) is None


def test_a_wildcard_address_is_announced_as_loopback(tmp_path: Path) -> None:
    assert runtime.write(tmp_path, "http://0.0.0.0:8080").url == "http://127.0.0.1:8080"
    assert runtime.write(tmp_path, "http://[::]:8080").url == "http://[::1]:8080"
    assert runtime.write(tmp_path, "http://10.1.2.3:8080").url == "http://10.1.2.3:8080"


def test_a_server_on_every_address_is_found_and_answers(cli: Cli) -> None:
    cli.start("project", "--host", "0.0.0.0")
    info = eventually(lambda: runtime.discover(cli.data_dir), timeout=30)
    assert info.url.startswith("http://127.0.0.1:")
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "no jobs"
