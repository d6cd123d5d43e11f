"""`cobertura`: read a Cobertura XML report; set `cobertura_line_rate` and
`cobertura_branch_rate` in the context, formatted as Cyclid formats them (`"90.0%"`)."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Literal

from jobstream.events.documents.models import ActionStep
from jobstream.runners.actions.base import Action, ActionJob, workspace_path
from jobstream.runners.actions.rubyfloat import round2, to_f, to_s

__all__ = ["Cobertura", "CoberturaStep", "cobertura_rates"]


class CoberturaStep(ActionStep):
    """`path`: the report, relative to the workspace unless absolute."""

    action: Literal["cobertura"]
    path: str


def cobertura_rates(report: Path) -> tuple[str, str]:
    """(line rate, branch rate) of the first `<coverage>` element, as percentages."""
    root = ElementTree.parse(report).getroot()
    coverage = next(root.iter("coverage"), None)
    if coverage is None:
        raise ValueError("no <coverage> element")
    rates = []
    for attribute in ("line-rate", "branch-rate"):
        value = coverage.get(attribute)
        if value is None:
            raise ValueError(f"<coverage> has no {attribute} attribute")
        rates.append(to_s(round2(to_f(value) * 100)) + "%")
    return rates[0], rates[1]


class Cobertura(Action[CoberturaStep]):
    step = CoberturaStep

    async def run(self, step: CoberturaStep, job: ActionJob) -> str | None:
        try:
            line, branch = await asyncio.to_thread(cobertura_rates, workspace_path(job, step.path))
        except (OSError, ElementTree.ParseError, ValueError) as error:
            return f"Failed to read Cobertura coverage report: {error}"
        await job.log(f"Cobertura coverage line rate is {line}, branch rate is {branch}")
        job.context["cobertura_line_rate"] = line
        job.context["cobertura_branch_rate"] = branch
        return None
