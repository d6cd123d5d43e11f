"""The `host` builder: steps run as jobstream's own user, on the host, unconfined.

This is jobstream's behaviour before the sandbox, kept for machines without bubblewrap and
for jobs that need the host (jobstream warns once when it is chosen). Two things still
hold here: the job's environment has none of the worker's `JOBSTREAM_*` variables, and
the script reaches the shell as a file (owner-only, in the workspace's `.jobstream/`,
removed after the step, and swept on the next start after a crash), never as argv text.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

from jobstream.runners.builders.base import (
    SCRIPT_DIR,
    Builder,
    BuilderUnavailable,
    Launch,
    Spawn,
    shell_argv,
)

__all__ = ["HostBuilder", "host_environment"]

_WORKER_PREFIX = "JOBSTREAM_"


def host_environment() -> dict[str, str]:
    """The worker's environment without its own settings (tokens, webhook secrets, paths)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(_WORKER_PREFIX)}


class HostBuilder(Builder):
    name = "host"
    isolated = False

    @contextlib.contextmanager
    def spawn(self, launch: Launch) -> Iterator[Spawn]:
        if not (self.network and launch.network):
            raise BuilderUnavailable(
                "the job asks for no network, which only the sandbox builder can give"
            )
        scripts = launch.workspace / SCRIPT_DIR
        scripts.mkdir(mode=0o700, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="script-", dir=scripts)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(launch.script)
            os.chmod(name, 0o700)
            env = {**host_environment(), **launch.env}
            yield Spawn(shell_argv(launch.prefix, name), launch.cwd, env)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
