"""The command line starts fast: building it (every command's module, for `--help`)
imports none of the heavy libraries; each command imports what it uses when it runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import get_args

from jobstream.cli.callbacks import START_CHOICES
from jobstream.cli.views import STATUSES
from jobstream.events.log.base import Start
from jobstream.events.models import Status

from .cli_support import EXAMPLES

HEAVY = ("fastapi", "faust", "aiokafka", "duckdb", "uvicorn")

_PROBE = """
import json, sys
from jobstream.cli import main
try:
    main(sys.argv[1:], prog_name="jobstream")
except SystemExit:
    pass
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})), file=sys.stderr)
"""


def imported_by(*args: str) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running the CLI."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=60
    )
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


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
