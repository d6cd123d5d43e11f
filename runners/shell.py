"""The shell text a command or script step runs, built the way Cyclid's transports built it.

Cyclid 0.4 (`plugins/transport/ssh.rb` and `dockerapi.rb`, `plugins/action/command.rb` and
`script.rb`) ran every step as one line of shell text: an `export KEY="value"` per `env`
entry, then `cd PATH` when the step has a `path`, then the command, all joined with `;`.
So, as there:

- an env key is upper-cased with each whitespace character turned into `_`, and its value
  sits inside double quotes, where the shell expands `$VAR`, `$(...)` and backslashes
  (`PATH: /opt/bin:$PATH` works);
- a failing `cd` does not stop the command; jobstream adds one line on stderr saying so;
  an env key that is no shell name after the rewrite is left out (Cyclid's export failed
  and a bash build host went on; /bin/sh would stop);
- `cmd` with `args` is `cmd` and the args joined with spaces, unquoted (`*.txt` globs);
  without `args`, `cmd` is split on whitespace and joined again with single spaces.

The text holds interpolated values, secrets among them, so it is never put on a command
line: the executor hands it to `/bin/sh` as a script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobstream.events.documents.cyclidlint import env_name, words

__all__ = ["command_line", "script_command", "step_text"]

_CD_FAILED = (
    "echo 'jobstream: cd failed; the command runs in the workspace, as Cyclid ran it"
    " in its default directory' >&2"
)


def command_line(cmd: str, args: Sequence[str] | None) -> str:
    """A command step's command, before interpolation (Cyclid interpolated the joined line)."""
    if args is None:
        return " ".join(words(cmd))
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
