"""The `sandbox` builder: every step runs inside a bubblewrap (`bwrap`) sandbox.

What a step sees, in the order the mounts are made:

- the host's filesystem read-only (`--ro-bind / /`), a minimal `/dev`, its own `/proc` and
  `/tmp`;
- the workspace root (every job's workspace) and each hidden path (the data directory,
  key files) replaced by an empty tmpfs (a hidden file by an empty one), so neither the
  log, the views, the keys nor another job's workspace can be reached by any path;
- its own workspace bound back in, read-write, at the same path.

It runs in its own PID namespace (`--unshare-pid`): when the step's shell exits, the
namespace's init exits and the kernel kills every process left in it, `setsid` or not;
`--die-with-parent` does the same when the worker dies, even by SIGKILL. A job whose
document says `network: false`, or every job when the builder is made with
`network=False`, also gets its own empty network namespace (`--unshare-net`).

The script is copied from an in-memory file into the sandbox's private `/tmp` (`--file`),
so it is never on a disk nor on a command line. The environment is exactly PATH, HOME
(the workspace) and what the job gives; it reaches bwrap through `execve`, not through
`--setenv` arguments, which would put the values on bwrap's command line.

Stopping a step keeps its grace. The process layer sends SIGTERM to bwrap's process
group, which holds the step's processes too; bwrap itself is started ignoring SIGTERM
(GNU `env --ignore-signal`), and the step gets the default back inside
(`env --default-signal`), so the step's processes can clean up until the SIGKILL after
`kill_grace`, which kills bwrap and with it (`--die-with-parent`) the whole sandbox.
Were bwrap to die of the SIGTERM, the sandbox would be SIGKILLed at once.

`--new-session` is not used: the process layer already starts bwrap in a new session
with no controlling terminal (so TIOCSTI cannot reach one), and a new session inside
would take the step's processes out of the group that SIGTERM goes to.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from jobstream.runners.builders.base import (
    Builder,
    BuilderUnavailable,
    Launch,
    Spawn,
    memory_file,
    shell_argv,
)

__all__ = ["SCRIPT_PATH", "SandboxBuilder", "probe"]

# Where the step's script is inside the sandbox: its private /tmp.
SCRIPT_PATH = "/tmp/.jobstream-step"
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

# The options every sandbox is made with; the probe runs `true` with exactly these.
_BASE = [
    "--die-with-parent",
    "--unshare-pid",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
]


def _wrapped(bwrap: str, options: list[str], command: list[str]) -> list[str]:
    """bwrap ignoring SIGTERM, running `command` with SIGTERM's default disposition."""
    env = shutil.which("env") or "/usr/bin/env"
    inner = [env, "--default-signal=TERM", *command]
    return [env, "--ignore-signal=TERM", bwrap, *_BASE, *options, "--", *inner]


@functools.cache
def probe(bwrap: str = "bwrap") -> str | None:
    """None if bubblewrap can make a sandbox here, else why not (run once per process).
    It runs `true` in a sandbox made as every step's is, wrapper and all."""
    path = shutil.which(bwrap)
    if path is None:
        return f"{bwrap} is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        result = subprocess.run(
            _wrapped(path, [], ["true"]),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": DEFAULT_PATH},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{path} cannot be run: {error}"
    if result.returncode != 0:
        # Typically "No permissions to creating new namespace": user namespaces are off
        # (kernel.unprivileged_userns_clone=0, or a container without CAP_SYS_ADMIN).
        detail = result.stderr.strip() or f"exit code {result.returncode}"
        return f"{path} cannot make a sandbox here: {detail}"
    return None


def _outermost(paths: list[Path]) -> list[Path]:
    """The paths not inside another: masking one inside a masked directory would make its
    mount point, an empty file or directory of that name, appear there."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(o != p and p.is_relative_to(o) for o in unique)]


class SandboxBuilder(Builder):
    name = "sandbox"
    isolated = True

    bwrap = "bwrap"

    def check(self) -> None:
        if (problem := probe(self.bwrap)) is not None:
            raise BuilderUnavailable(problem)

    def argv(self, launch: Launch, script_fd: int) -> list[str]:
        """The command line for `launch`, with its script read from `script_fd`."""
        workspace = launch.workspace.resolve()
        argv = []
        if not (self.network and launch.network):
            argv.append("--unshare-net")
        for path in _outermost([workspace.parent, *(p.resolve() for p in self.hidden)]):
            if path.is_dir():
                argv += ["--tmpfs", str(path)]
            elif path.exists():
                argv += ["--ro-bind", "/dev/null", str(path)]
        argv += ["--bind", str(workspace), str(workspace)]
        argv += ["--perms", "0700", "--file", str(script_fd), SCRIPT_PATH]
        argv += ["--chdir", str(launch.cwd.resolve())]
        bwrap = shutil.which(self.bwrap) or self.bwrap
        return _wrapped(bwrap, argv, shell_argv(launch.prefix, SCRIPT_PATH))

    @contextlib.contextmanager
    def spawn(self, launch: Launch) -> Iterator[Spawn]:
        env = {
            "PATH": os.environ.get("PATH", DEFAULT_PATH),
            "HOME": str(launch.workspace.resolve()),
            **launch.env,
        }
        with memory_file("jobstream-step", launch.script) as fd:
            yield Spawn(self.argv(launch, fd), launch.cwd, env, (fd,))
