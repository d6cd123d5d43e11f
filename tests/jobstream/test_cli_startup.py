"""The command line starts fast: building it (every command's module, for `--help`)
imports none of the heavy libraries; each command imports what it uses when it runs, and a
query a running server answers imports only the HTTP client and the record models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import get_args

from jobstream import runtime
from jobstream.cli.callbacks import START_CHOICES
from jobstream.cli.views import STATUSES
from jobstream.events.log.base import Start
from jobstream.events.models import Status

from ..polling import eventually
from .cli_support import EXAMPLES, Cli

HEAVY = ("fastapi", "faust", "aiokafka", "duckdb", "uvicorn")
# What only the process holding the views needs (and the document language's cryptography).
SERVER_SIDE = {*HEAVY, "cryptography", "yaml", "sse_starlette", "starlette"}
# Modules a query a server answers has no use for: the document language and the actions
# (the settings name their keys without them), the event models (records need only the
# statuses), and the asynchronous HTTP stack (one question is asked with blocking requests).
NOT_FOR_A_QUERY = (
    "jobstream.events.documents",
    "jobstream.events.models",
    "jobstream.runners.actions",
    "anyio._backends._asyncio",
)

_PROBE = """
import json, sys
from jobstream.cli import main
try:
    main(sys.argv[1:], prog_name="jobstream")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running the CLI."""
    return {name.partition(".")[0] for name in run_probe(*args, env=env, cwd=cwd)[0]}


def run_probe(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[set[str], str]:
    """Every module a fresh interpreter has imported after running the CLI, and what the
    command printed."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ if env is None else env),
        cwd=cwd,
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1])), result.stdout


def test_help_imports_no_heavy_library() -> None:
    modules = imported_by("--help")
    assert "jobstream" in modules
    assert not modules & {*HEAVY, "pydantic", "httpx"}, sorted(modules & {*HEAVY, "pydantic"})


def test_lint_imports_no_service_library() -> None:
    modules = imported_by("lint", str(EXAMPLES / "minimal.yml"))
    assert "yaml" in modules  # it did read the document
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_choices_written_out_for_speed_match_their_sources() -> None:
    assert [s.name for s in Status] == STATUSES
    assert sorted(START_CHOICES) == sorted(get_args(Start))


def test_queries_a_running_server_answers_import_only_the_client(cli: Cli) -> None:
    ran = cli("run", str(EXAMPLES / "minimal.yml"))
    assert ran.returncode == 0, ran.stderr
    job = json.loads(cli("list", "--json").stdout)[0]["job_id"]
    cli.start("project")
    eventually(lambda: runtime.discover(cli.data_dir), timeout=30)
    for args, printed in [
        (("list",), job[:12]),
        (("show", job[:8]), job),
        (("status", job[:8]), "SUCCEEDED"),
        (("log", job[:8]), "hello"),
        (("stats",), "SUCCEEDED"),
    ]:
        loaded, out = run_probe(*args, env=cli.env, cwd=cli.data_dir.parent)
        modules = {name.partition(".")[0] for name in loaded}
        assert printed in out, (args, out)
        assert "httpx" in modules, args  # it did ask the server
        assert not modules & SERVER_SIDE, (args, sorted(modules & SERVER_SIDE))
        unneeded = sorted(m for m in loaded if m.startswith(NOT_FOR_A_QUERY))
        assert unneeded == [], (args, unneeded)
