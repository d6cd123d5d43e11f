"""`simplecov`: read a SimpleCov JSON report; set `simplecov_coverage` in the context,
formatted as Cyclid formats it (`"86.08%"`; `"85%"` when the report holds an integer)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Literal

from jobstream.events.documents.models import ActionStep
from jobstream.runners.actions.base import Action, ActionJob, workspace_path
from jobstream.runners.actions.rubyfloat import round2, to_s

__all__ = ["Simplecov", "SimplecovStep", "simplecov_coverage"]


class SimplecovStep(ActionStep):
    """`path`: the report, relative to the workspace unless absolute."""

    action: Literal["simplecov"]
    path: str


def simplecov_coverage(report: Path) -> str:
    """The covered percentage of a simplecov-json report (`metrics.covered_percent`, what
    Cyclid reads) or of SimpleCov's own `.last_run.json` (`result.line` or
    `result.covered_percent`, which Cyclid could not read)."""
    data = json.loads(report.read_text(encoding="utf-8"))
    percent = _at(data, "metrics", "covered_percent")
    if percent is None:
        percent = _at(data, "result", "line")
    if percent is None:
        percent = _at(data, "result", "covered_percent")
    if percent is None:
        raise ValueError("no metrics.covered_percent (nor result.line) in the report")
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise ValueError(f"the covered percentage is not a number: {percent!r}")
    # Ruby's Integer#round(2) is the integer itself: "85%", not "85.0%".
    return (str(percent) if isinstance(percent, int) else to_s(round2(percent))) + "%"


def _at(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


class Simplecov(Action[SimplecovStep]):
    step = SimplecovStep

    async def run(self, step: SimplecovStep, job: ActionJob) -> str | None:
        try:
            coverage = await asyncio.to_thread(simplecov_coverage, workspace_path(job, step.path))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            return f"Failed to read Simplecov coverage report: {error}"
        await job.log(f"Simplecov coverage is {coverage}")
        job.context["simplecov_coverage"] = coverage
        return None
