"""Hypothesis strategies for hostile job documents, and the checks every one must pass.

A document is a template of a realistic job whose fields (name, environment, secrets,
step commands, args, env, paths, timeouts, modifiers, labels...) are each filled either
with an ordinary value or with something built to break a reader: YAML that the safe
constructor cannot build (`2001-13-45`, `!!int abc`, `!!bool maybe`), values no JSON event
can carry (dates, `!!binary`, `!!set`, NaN), text no process can take (NUL, lone
surrogates), numbers of thousands of digits, deep nesting, unknown and Python tags, broken
aliases, garbage. Each example records the kinds it used, so a run can report what it
tried (`Tally`).
"""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from jobstream.events.documents.validation import ValidatedDocument
from jobstream.events.models import Status
from jobstream.runners.builders import HostBuilder
from jobstream.runners.builders.base import Launch, Spawn
from jobstream.runners.executor import Runner
from jobstream.runners.testing import RecordingNotifier

__all__ = ["Case", "ParseOnly", "Tally", "cases", "run_parse_only"]

# Every kind of hostile YAML value, as the text that goes into a field's place.
HOSTILE: dict[str, list[str]] = {
    "bad date": ["2001-13-45", "2001-02-30", "!!timestamp never", "1999-00-01 25:61:61"],
    "date": ["2001-01-01", "2001-01-01 10:00:00", "2001-01-01T10:00:00Z"],
    "bad scalar tag": ["!!int abc", "!!float abc", "!!bool maybe", "!!null x", "!!int 0x"],
    "binary": ["!!binary aGVsbG8=", "!!binary '@@@'", "!!binary /w=="],
    "set or pairs": ["!!set {a: null}", "!!omap [a: 1]", "!!pairs [a: 1, a: 2]"],
    "not finite": [".nan", ".inf", "-.inf", "1e400", "!!float -1e999"],
    "long number": ["9" * 5000, "-" + "1" * 4400, "0x" + "f" * 5000, "1" * 200],
    "python tag": ["!!python/object/apply:os.system [true]", "!!python/name:os.system"],
    "unknown tag": ["!vault abc", "!<tag:example.com,2000:x> y", "!!str"],
    "alias": ["*nowhere", "&a [*a]", "&b {k: *b}"],
    "nul": ['"a\\0b"', '"\\0"', '["x\\0"]'],
    "surrogate": ['"\\ud800"', '"\\udfff x"'],
    "control": ['"\\x01\\x1b[31m"', '"\\u2028\\u0085"', "\x01"],
    "broken": ["[", "{a: ", "'unterminated", "a: b: c", "- x", "]", "? [a]\n  : b"],
    "empty": ["", "~", "null", "[]", "{}", '""'],
    "wrong type": ["true", "3", "-1", "0", "2.5", "[a, b]", "{a: 1}", "[[], {}]"],
}
KINDS = sorted(HOSTILE)


@st.composite
def deep(draw: st.DrawFn) -> tuple[str, str]:
    n = draw(st.integers(1, 300))
    opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}")]))
    return "deep", opener * n + "x" + closer * n


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from([*KINDS, "deep", "text", "quoted text"]))
    if kind == "deep":
        return draw(deep())
    if kind == "text":
        return kind, draw(st.text(max_size=40)).replace("\n", " ")
    if kind == "quoted text":
        # JSON's escapes are YAML's: lone surrogates and NULs come through as escapes.
        return kind, json.dumps(draw(st.text(st.characters(codec=None), max_size=40)))
    return kind, draw(st.sampled_from(HOSTILE[kind]))


# Fields of the template, each with the ordinary values it takes. Commands are only ever
# parsed by the shell here (`ParseOnly`), never run.
ORDINARY: dict[str, list[str]] = {
    "name": ["job", '"a job"', "build-1"],
    "version": ["1.0.0", "2", "1.10"],
    "env_key": ["RELEASE", "ci", "A_B"],
    "env_value": ["yes", '"a b"', "3", "2.5", "true", "~", "[a, b]", "{k: v}"],
    "secret": ['"s3cret-value"', "hunter22"],
    "label": ["main", '"x=y"'],
    "timeout": ["30", "0.5", "1e308"],
    "retry": ["0", "2"],
    "network": ["true", "false"],
    "cmd": ['"echo hi"', "true", '"echo %{RELEASE}"', "'ls -la'"],
    "arg": ["a", '"*.txt"', "3", "'$HOME'"],
    "path": ["sub", '"/tmp"', "."],
    "script": ['"echo one"', "[echo one, echo two]"],
    "message": ["done", '"%{name} ok"'],
    "condition": ['"%{RELEASE} == yes"', '"1 < 2"'],
    "stage": ["s"],
}

TEMPLATE = """\
name: {name}
version: {version}
environment:
  {env_key}: {env_value}
secrets:
  token: {secret}
labels:
  branch: {label}
timeout: {timeout}
retry: {retry}
network: {network}
stages:
  - name: s
    steps:
      - action: command
        cmd: {cmd}
        args: [{arg}]
        env:
          {env_key}: {env_value}
        path: {path}
        timeout: {timeout}
      - action: script
        script: {script}
      - action: log
        message: {message}
sequence:
  - stage: {stage}
    only_if: {condition}
"""


@dataclass(frozen=True)
class Case:
    text: str
    kinds: tuple[str, ...]
    """The hostile kinds in this document ("ordinary" when it has none)."""


@st.composite
def yaml_cases(draw: st.DrawFn) -> Case:
    values: dict[str, str] = {}
    kinds: list[str] = []
    # How hostile this document is: a field in 20, in 6 or in 2.
    odds = draw(st.sampled_from([20, 6, 2]))
    for slot, ordinary in ORDINARY.items():
        if draw(st.integers(1, odds)) == 1:
            kind, text = draw(hostile())
            kinds.append(kind)
            values[slot] = text
        else:
            values[slot] = draw(st.sampled_from(ordinary))
    return Case(TEMPLATE.format(**values), tuple(kinds) or ("ordinary",))


_JSON_HOSTILE = {
    "nan": float("nan"),
    "inf": float("inf"),
    "nul": "a\x00b",
    "surrogate": "\ud800",
    "wrong type": [1, {"a": None}],
    "empty": None,
}


@st.composite
def json_cases(draw: st.DrawFn) -> Case:
    """The same job as JSON: values no JSON reader must choke on (digits past Python's
    limit, NaN, nesting) and text no process can take."""
    kinds: list[str] = []
    odds = draw(st.sampled_from([20, 6, 2]))

    def value(ordinary: object) -> object:
        if draw(st.integers(1, odds)) != 1:
            return ordinary
        kind = draw(st.sampled_from([*_JSON_HOSTILE, "long number", "deep", "text"]))
        kinds.append(kind)
        if kind == "long number":
            return _Raw(draw(st.sampled_from(["9" * 5000, "-" + "1" * 4400, "1" * 300])))
        if kind == "deep":
            n = draw(st.integers(1, 300))
            return _Raw("[" * n + "]" * n)
        if kind == "text":
            return draw(st.text(st.characters(codec=None), max_size=40))
        return _JSON_HOSTILE[kind]

    step = {
        "action": "command",
        "cmd": value("echo hi"),
        "args": [value("a")],
        "env": {"RELEASE": value("yes")},
        "path": value("sub"),
    }
    raw = {
        "name": value("job"),
        "environment": {"RELEASE": value("yes")},
        "secrets": {"token": value("s3cret-value")},
        "timeout": value(30),
        "stages": [{"name": "s", "steps": [step, {"action": "log", "message": value("m")}]}],
        "sequence": [{"stage": "s", "only_if": value("1 < 2")}],
    }
    return Case(_dump(raw), tuple(kinds) or ("ordinary",))


class _Raw:
    """JSON text put into the document as it is (what json.dumps cannot write)."""

    def __init__(self, text: str) -> None:
        self.text = text


def _dump(raw: object) -> str:
    raws: list[str] = []

    def default(value: object) -> str:
        assert isinstance(value, _Raw)
        raws.append(value.text)
        return f"@@RAW{len(raws) - 1}@@"

    text = json.dumps(raw, default=default)
    for i, piece in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', piece)
    return text


def cases() -> st.SearchStrategy[tuple[str, Case]]:
    """(format, case): YAML three times out of four."""
    return st.one_of(
        yaml_cases().map(lambda c: ("yaml", c)),
        yaml_cases().map(lambda c: ("yaml", c)),
        yaml_cases().map(lambda c: ("yaml", c)),
        json_cases().map(lambda c: ("json", c)),
    )


@dataclass
class Tally:
    """What a fuzz run tried and what came of it, by kind."""

    tried: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def add(self, case: Case, outcome: str) -> None:
        self.tried.update(set(case.kinds))
        self.outcomes[outcome] += 1

    def summary(self, what: str) -> str:
        total = sum(self.outcomes.values())
        seconds = time.monotonic() - self.started
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.tried.items()))
        outcomes = ", ".join(f"{k} {n}" for k, n in sorted(self.outcomes.items()))
        return f"{what}: {total} documents in {seconds:.0f} s; {outcomes}; kinds: {kinds}"


class ParseOnly(HostBuilder):
    """The host builder, whose shell only parses the step (`sh -n`): every process really
    starts, with the step's real text, environment and directory, and runs nothing."""

    @contextlib.contextmanager
    def spawn(self, launch: Launch) -> Iterator[Spawn]:
        with super().spawn(launch) as spawn:
            script = shlex.split(spawn.argv[-1])[-1]  # `exec PATH`, see shell_argv
            yield Spawn(["/bin/sh", "-n", script], spawn.cwd, spawn.env, spawn.pass_fds)


async def run_parse_only(validated: ValidatedDocument, workspaces: Path) -> RecordingNotifier:
    """Run an accepted document to its end on `ParseOnly`; what the runner reported."""
    runner = Runner(workspace_root=workspaces, builder=ParseOnly(), kill_grace=0.5)
    notifier = RecordingNotifier()
    status = await runner.run("fuzz-job", validated.document, notifier)
    assert status in (Status.SUCCEEDED, Status.FAILED), status
    assert notifier.completions and notifier.completions[-1].status is status
    reason = notifier.statuses[-1].reason or ""
    assert not reason.startswith("the runner failed"), reason
    return notifier
