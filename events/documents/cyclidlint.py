"""Lint warnings where Cyclid 0.4's behaviour, which jobstream follows or improves on,
would surprise the author of a document. None is an error: the document still runs.

Each rule names the Cyclid code it comes from; docs/job-format.md has the whole
list with jobstream's choice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

__all__ = ["cyclid_warnings", "env_name", "is_shell_name", "sudo_on", "sudo_surprise", "words"]

Loc = tuple[str | int, ...]
Finding = tuple[Loc, Literal["warning"], str]

# The whitespace of Ruby's `\s` and `String#split` (ASCII only), and a shell variable name.
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]")
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A `%` that Ruby's format (`String#%`, monkey_patches.rb) does not take as literal or as a
# `%{name}` reference: `%%`, a `%` at the end or before a newline are fine.
_PERCENT = re.compile(r"%(%|\{|\n|\Z|.)")
_INTERPOLATED = {
    "command": ("cmd", "path"),
    "script": ("script", "path"),
    "log": ("message",),
}


def env_name(key: str) -> str:
    """The variable Cyclid's transports exported for an env key: `gem home` → `GEM_HOME`."""
    return _WHITESPACE.sub("_", key.upper())


def sudo_on(value: Any) -> bool:
    """Whether a step's `sudo` value asks for sudo: Ruby's truthiness, as Cyclid's
    transports tested `args[:sudo]`: anything but false and null (absent)."""
    return value is not None and value is not False


# What reads as "off" to a person but is true to Ruby.
_OFF_LOOKING = frozenset({"false", "no", "off", "n", "0", "0.0", ""})


def sudo_surprise(value: Any) -> str | None:
    """What to say about a `sudo` value that turns sudo on although it looks like "off"."""
    if isinstance(value, bool) or value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else str(value)
    if text not in _OFF_LOOKING and value not in ([], {}):
        return None
    return (
        f"sudo {value!r} turns sudo on: Cyclid took any value but false or null as true "
        "(Ruby's rule), and so does jobstream; write sudo: false, or leave it out"
    )


def is_shell_name(name: str) -> bool:
    """Whether `export NAME=...` can work."""
    return _SHELL_NAME.match(name) is not None


def words(text: str) -> list[str]:
    """Ruby's `String#split` without arguments: the runs of non-whitespace."""
    return [part for part in _WHITESPACE.split(text) if part]


def cyclid_warnings(raw: dict[Any, Any]) -> Iterable[Finding]:
    for i, stage in _items(raw, "stages"):
        for j, step in _items(stage, "steps"):
            yield from _step(("stages", i, "steps", j), step)
    for i, source in _items(raw, "sources"):
        yield from _source(("sources", i), source)
    yield from _listed_twice(raw)


def _items(container: Any, field: str) -> Iterable[tuple[int, dict[Any, Any]]]:
    items = container.get(field) if isinstance(container, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield i, item


def _percent(loc: Loc, value: Any) -> Iterable[Finding]:
    if not isinstance(value, str):
        return
    match = next((m for m in _PERCENT.finditer(value) if m.group(1) not in "%{\n"), None)
    if match is not None:
        yield (
            loc,
            "warning",
            f"'%{match.group(1)}' is not a %{{name}} reference: Cyclid's Ruby format failed "
            "on it (the job never ended) or read it as a directive; jobstream keeps it as "
            "it is (write %% for a literal % to be safe in both)",
        )


def _step(loc: Loc, step: dict[Any, Any]) -> Iterable[Finding]:
    action = step.get("action")
    for field in _INTERPOLATED.get(action, ()) if isinstance(action, str) else ():
        value = step.get(field)
        if isinstance(value, list):
            for n, line in enumerate(value):
                yield from _percent((*loc, field, n), line)
        else:
            yield from _percent((*loc, field), value)
    if action not in ("command", "script"):
        return
    if message := sudo_surprise(step.get("sudo")):
        yield (*loc, "sudo"), "warning", message
    env = step.get("env")
    if isinstance(env, list):
        yield (
            (*loc, "env"),
            "warning",
            "env as a list of mappings (the form of Cyclid's docs) is merged into one "
            "mapping; Cyclid itself failed on it: write a mapping",
        )
        env = {k: v for item in env if isinstance(item, dict) for k, v in item.items()}
    if isinstance(env, dict):
        yield from _env((*loc, "env"), env)
    if action == "command":
        yield from _command(loc, step)
    path = step.get("path")
    if action == "script" and isinstance(path, str) and path and "/" not in path:
        yield (
            (*loc, "path"),
            "warning",
            f"the script is run as `{path}`, which the shell looks up on PATH (Cyclid ran "
            f"`chmod +x {path} && {path}` too): write ./{path}",
        )


def _env(loc: Loc, env: dict[Any, Any]) -> Iterable[Finding]:
    for key, value in env.items():
        if not isinstance(key, str):
            continue
        name = env_name(key)
        if not is_shell_name(name):
            yield (
                (*loc, key),
                "warning",
                f"'{name}' is not a shell variable name: its export fails and the step runs "
                "without it, as in Cyclid",
            )
        elif name != key:
            yield (
                (*loc, key),
                "warning",
                f"exported as {name}: Cyclid upper-cased env names and turned whitespace into _",
            )
        if isinstance(value, str):
            if '"' in value:
                yield (
                    (*loc, key),
                    "warning",
                    'the value is exported inside double quotes (export NAME="value"), '
                    'as Cyclid did: a " in it ends the quoting',
                )
            yield from _percent((*loc, key), value)


def _command(loc: Loc, step: dict[Any, Any]) -> Iterable[Finding]:
    args = step.get("args")
    if isinstance(args, list):
        for n, arg in enumerate(args):
            yield from _percent((*loc, "args", n), arg)
        return
    cmd = step.get("cmd")
    if isinstance(cmd, str) and " ".join(words(cmd)) != cmd.strip():
        yield (
            (*loc, "cmd"),
            "warning",
            "without args, Cyclid split cmd on whitespace and joined it with single spaces, "
            "so newlines, tabs and repeated spaces (inside quotes too) become one space; "
            "jobstream does the same: use a script step for several lines",
        )


def _source(loc: Loc, source: dict[Any, Any]) -> Iterable[Finding]:
    url = source.get("url")
    if isinstance(url, str):
        if "%{" in url:
            yield (
                (*loc, "url"),
                "warning",
                "Cyclid parsed the url before interpolating it and failed on %{...}; "
                "jobstream interpolates it",
            )
        elif not re.match(r"https?://", url):
            yield (
                (*loc, "url"),
                "warning",
                "Cyclid cloned only http(s) sources and skipped this one silently; "
                "jobstream clones it",
            )
    for field in ("branch", "token"):
        yield from _percent((*loc, field), source.get(field))


def _listed_twice(raw: dict[Any, Any]) -> Iterable[Finding]:
    first: dict[str, int] = {}
    for i, entry in _items(raw, "sequence"):
        name = entry.get("stage")
        if not isinstance(name, str):
            continue
        if name in first:
            yield (
                ("sequence", i, "stage"),
                "warning",
                f"stage '{name}' is listed again (first at sequence[{first[name]}]): Cyclid "
                "kept one set of handlers and modifiers per stage name, the last entry's; "
                "jobstream keeps each entry's own, and a handler naming it goes to its first",
            )
        else:
            first[name] = i
