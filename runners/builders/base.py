"""The builder interface: where and how a step's process runs.

A builder turns a `Launch` (a shell script, the job's workspace, its working directory and
environment) into the argv, environment and file descriptors the process layer spawns.
The script never travels as argument text: each builder hands it to the shell as a file
(interpolated commands carry secrets, and `/proc/*/cmdline` is readable by every local
user). A builder is the plugin point Cyclid calls a builder: the runner knows only this
interface, and builders are found by name in the `jobstream.builders` entry-point group.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from jobstream.events.errors import BuilderUnavailable

__all__ = [
    "SCRIPT_DIR",
    "Builder",
    "BuilderUnavailable",
    "Launch",
    "Spawn",
    "memory_file",
    "shell_argv",
]

# Where a builder that writes scripts into the workspace puts them (`.jobstream/script-*`);
# `jobstream.runners.workspace.sweep_scripts` removes what a crashed worker left there.
SCRIPT_DIR = ".jobstream"


@dataclass(frozen=True, slots=True)
class Launch:
    """One process of a step (or of a source's checkout), as the runner asks for it.

    `script` is shell text: the file holding it is executed by `/bin/sh -c`, so a script
    with a `#!` line runs under its interpreter and one without runs as a sh script.
    `env` is everything the job gives this process; the builder adds only its documented
    variables. `prefix` goes in front of the shell (e.g. `sudo -n --preserve-env --`).
    """

    script: str
    workspace: Path
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    network: bool = True
    prefix: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Spawn:
    """What the process layer starts: the argv, its environment, descriptors to pass."""

    argv: list[str]
    cwd: Path
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()


def shell_argv(prefix: Sequence[str], script: str) -> list[str]:
    """`/bin/sh -c 'exec PATH'`: the file at PATH replaces the shell, under its `#!` line's
    interpreter, or as a sh script when it has none (the shell's ENOEXEC fallback). With
    `exec` the step's main process is the script itself: a shell left waiting for it
    would die of a cancel's SIGTERM before the script's own trap had run, and in the
    sandbox the main process's end ends every other."""
    return [*prefix, "/bin/sh", "-c", "exec " + shlex.quote(script)]


class Builder:
    """Runs a step's processes; subclasses override `check` and `spawn`.

    `name` is what the `builder` setting says; `isolated` tells whether jobs are kept away
    from the data directory, the keys and each other (jobstream warns when they are not).
    A builder that cannot do what a launch asks (turn the network off, say) raises
    BuilderUnavailable from `spawn`, and the step fails with that reason.
    """

    name: ClassVar[str] = ""
    isolated: ClassVar[bool] = False

    def __init__(self, *, hidden: Sequence[Path] = (), network: bool = True) -> None:
        # Every builder is made with the same options, so one named in the settings (a
        # plugin too) needs nothing else: `hidden` are paths a job must not see (the data
        # directory, key files), `network` False turns the network off for every job.
        self.hidden = tuple(hidden)
        self.network = network

    def check(self) -> None:
        """Raise BuilderUnavailable, saying what is missing, if no step can run here."""

    def spawn(self, launch: Launch) -> contextlib.AbstractContextManager[Spawn]:
        """A context holding what to start for `launch`; leaving it removes every file
        the builder made for the process (the caller leaves it once the process ended)."""
        raise NotImplementedError


@contextlib.contextmanager
def memory_file(name: str, text: str) -> Iterator[int]:
    """A descriptor of an anonymous in-memory file holding `text`, inheritable, at offset 0:
    the text reaches the sandbox without touching a disk."""
    fd = os.memfd_create(name, 0)
    try:
        data = memoryview(text.encode())
        while data:
            data = data[os.write(fd, data) :]
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)
        yield fd
    finally:
        os.close(fd)
