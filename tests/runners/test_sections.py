"""The stage and step hooks: what the runner reports of each stage run and step, and the
line numbers that let a reader attribute every log line to the stage and step that wrote it."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

from jobstream.events.models import LogLine, Status
from jobstream.runners.testing import RecordingNotifier

from .test_executor import job, log, run, sh

SECRET = "hunter2-not-for-logs"


def two_stages_and_a_handler() -> dict:
    """build (two steps, one writing stderr), a skipped stage, test (its second step exits
    3) and the handler its failure runs."""
    return {
        "stages": {
            "build": [sh("echo compiling"), sh(f"echo warning >&2; echo {SECRET} is %{{token}}")],
            "docs": [sh("echo never")],
            "test": [sh("echo testing"), sh("exit 3"), sh("echo not reached")],
            "report": [log("tests failed")],
        },
        "sequence": [
            "build",
            {"stage": "docs", "only_if": "1 == 2"},
            {"stage": "test", "on_failure": "report"},
        ],
        "secrets": {"token": SECRET},
    }


def delivered_before(notifier: RecordingNotifier) -> list[int]:
    """For each stage or step hook in order, how many lines the notifier had been given
    before it was called."""
    counts: list[int] = []
    chunks = iter(notifier.chunks)
    lines = 0
    for call in notifier.calls:
        if call == "log_write":
            lines += len(next(chunks))
        elif call.startswith(("stage_", "step_")):
            counts.append(lines)
    return counts


def between(lines: list[LogLine], first: int, last: int) -> list[str]:
    return [line.text for line in lines if first <= line.n <= last]


async def test_a_job_reports_each_stage_run_and_step_with_their_lines(tmp_path: Path) -> None:
    spec = two_stages_and_a_handler()
    document = job(spec["stages"], spec["sequence"], secrets=spec["secrets"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED

    hooks = [(c.hook, c.args.get("stage"), c.args.get("step")) for c in notifier.sections]
    assert hooks == [
        ("stage_started", 0, None),
        ("step_started", 0, 0),
        ("step_finished", 0, 0),
        ("step_started", 0, 1),
        ("step_finished", 0, 1),
        ("stage_finished", 0, None),
        ("stage_started", 1, None),
        ("stage_finished", 1, None),
        ("stage_started", 2, None),
        ("step_started", 2, 0),
        ("step_finished", 2, 0),
        ("step_started", 2, 1),
        ("step_finished", 2, 1),
        ("stage_finished", 2, None),
        ("stage_started", 3, None),
        ("step_started", 3, 0),
        ("step_finished", 3, 0),
        ("stage_finished", 3, None),
    ]
    stages = {c.args["stage"]: c.args for c in notifier.sections if c.hook == "stage_finished"}
    assert [(s["name"], s["status"]) for s in stages.values()] == [
        ("build", "SUCCEEDED"),
        ("docs", "SKIPPED"),
        ("test", "FAILED"),
        ("report", "SUCCEEDED"),
    ]
    started = [c.args for c in notifier.sections if c.hook == "step_started"]
    # The command as it ran, with the secret masked, as the log shows it.
    assert [(s["action"], s["title"]) for s in started] == [
        ("command", "echo compiling"),
        ("command", "echo warning >&2; echo *** is ***"),
        ("command", "echo testing"),
        ("command", "exit 3"),
        ("log", "log"),
    ]
    finished = [c.args for c in notifier.sections if c.hook == "step_finished"]
    assert [(s["status"], s["exit_code"]) for s in finished] == [
        ("SUCCEEDED", 0),
        ("SUCCEEDED", 0),
        ("SUCCEEDED", 0),
        ("FAILED", 3),
        ("SUCCEEDED", None),
    ]
    assert all(c.args["duration_s"] >= 0 for c in notifier.sections if "duration_s" in c.args)

    lines = notifier.lines
    assert all(SECRET not in line.text for line in lines)
    firsts = {
        (c.args["stage"], c.args.get("step")): c.args["first_line"]
        for c in notifier.sections
        if c.hook.endswith("_started")
    }
    lasts = {
        (c.args["stage"], c.args.get("step")): c.args["last_line"]
        for c in notifier.sections
        if c.hook.endswith("_finished")
    }
    section = {key: between(lines, firsts[key], lasts[key]) for key in firsts}
    assert section[(0, 0)] == ["$ echo compiling", "compiling", "==> exit code 0"]
    assert section[(0, 1)][0] == "$ echo warning >&2; echo *** is ***"
    assert sorted(section[(0, 1)][1:3]) == ["*** is ***", "warning"]
    assert section[(0, 1)][3:] == ["==> exit code 0"]
    assert section[(0, None)] == ["==> stage build", *section[(0, 0)], *section[(0, 1)]]
    assert section[(1, None)] == [
        "==> stage docs",
        "==> stage docs skipped: only_if '1 == 2'",
    ]
    assert section[(2, 1)] == ["$ exit 3", "==> exit code 3"]
    assert section[(2, None)] == [
        "==> stage test",
        *section[(2, 0)],
        *section[(2, 1)],
        "==> failed: stage 'test' step 2 (command): exit code 3",
    ]
    assert section[(3, 0)] == ["tests failed"]
    # Stage runs follow one another with no line between them or left out; only the
    # job's own last line is outside every stage.
    ranges = [(firsts[(s, None)], lasts[(s, None)]) for s in range(4)]
    assert ranges[0][0] == 1
    assert all(a[1] + 1 == b[0] for a, b in pairwise(ranges))
    assert between(lines, ranges[-1][1] + 1, len(lines)) == [
        "==> job failed: stage 'test' step 2 (command): exit code 3"
    ]

    # Every line numbered before a hook was handed over before it: a reader that has seen
    # a "finished" has every line of that section.
    expected = [
        c.args["first_line"] - 1 if c.hook.endswith("_started") else c.args["last_line"]
        for c in notifier.sections
    ]
    assert delivered_before(notifier) == expected


async def test_a_stopped_step_and_its_stage_end_failed(tmp_path: Path) -> None:
    document = job({"slow": [sh("echo begun; sleep 30")]}, ["slow"], timeout=1)
    status, notifier = await run(tmp_path, document, kill_grace=1)
    assert status is Status.FAILED
    ends = [(c.hook, c.args["status"]) for c in notifier.sections if c.hook.endswith("finished")]
    assert ends == [("step_finished", "FAILED"), ("stage_finished", "FAILED")]
    (step,) = [c.args for c in notifier.sections if c.hook == "step_finished"]
    assert step["exit_code"] is None  # killed by a signal: no exit status of its own


async def test_titles_are_one_short_masked_line(tmp_path: Path) -> None:
    steps = [
        {"action": "script", "script": f"#!/bin/sh\n\necho {SECRET}\necho two\n"},
        sh("echo " + "x" * 300),
        sh("true"),
    ]
    document = job({"s": steps}, ["s"], secrets={"token": SECRET})
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    titles = [c.args["title"] for c in notifier.sections if c.hook == "step_started"]
    assert titles[0] == "echo ***…"  # the script's first line after its #!, more below it
    assert len(titles[1]) == 200 and titles[1].endswith("x…")
    assert titles[2] == "true"
