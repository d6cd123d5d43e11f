"""The shell text a command or script step runs, built the way Cyclid's transports built it.

Cyclid 0.4 (`plugins/transport/ssh.rb` and `dockerapi.rb`, `plugins/action/command.rb` and
`script.rb`) ran every step as one line of shell text: an `export KEY="value"` per `env`
entry, then `cd PATH` when the step has a `path`, then the command, all joined with `;`.
So, as there:

- an env key is upper-cased with each whitespace character turned into `_`, and its value
  sits inside double quotes, where the shell expands `$VAR`, `$(...)` and backslashes
  (`PATH: /opt/bin:$PATH` works);
- a failing `export` or `cd` does not stop the command; jobstream adds one line on stderr
  saying so when the `cd` fails;
- `cmd` with `args` is `cmd` and the args joined with spaces, unquoted (`*.txt` globs);
  without `args`, `cmd` is split on whitespace and joined again with single spaces.

The text holds interpolated values, secrets among them, so it is never put on a command
line: the executor hands it to `/bin/sh` as a script.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["command_line", "env_name", "script_command", "step_text"]

# Ruby's `\s` and `String#split` whitespace: ASCII only.
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]")
_CD_FAILED = (
    "echo 'jobstream: cd failed; the command runs in the workspace, as Cyclid ran it"
    " in its default directory' >&2"
)


def env_name(key: str) -> str:
    """The variable Cyclid exported for an env key: `gem home` → `GEM_HOME`."""
    return _WHITESPACE.sub("_", key.upper())


def command_line(cmd: str, args: Sequence[str] | None) -> str:
    """A command step's command, before interpolation (Cyclid interpolated the joined line)."""
    if args is None:
        return " ".join(part for part in _WHITESPACE.split(cmd) if part)
    return f"{cmd} {' '.join(args)}"


def script_command(path: str) -> str:
    """What runs a script step's file (`script.rb`): no `cd`, `path` as the shell reads it."""
    return f"chmod +x {path} && {path}"


def step_text(command: str, *, env: Mapping[str, str], path: str | None = None) -> str:
    """The whole shell text of a step: exports, `cd path`, the command."""
    parts = [f'export {env_name(key)}="{value}"' for key, value in env.items()]
    if path:
        parts.append(f"cd {path} || {_CD_FAILED}")
    parts.append(command)
    return ";".join(parts)
