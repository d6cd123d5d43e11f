"""A callback host that is SIGKILLed between a delivery and its record in the store.

    python crash_host.py DATA_DIR NAME KILL_AT UNRECORDED EFFECTS

runs `Effects` on DATA_DIR's log.sqlite and callbacks.sqlite; the process kills itself once
the KILL_AT-th hook call has returned, before the host can start writing it down.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from jobstream.callbacks import Callback, CallbackHost, CallbackStore, JobInfo, current_delivery
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Event
from jobstream.events.names import Topics


class Effects(Callback):
    """Appends each delivery's key to a file: the receiver's side, which outlives the host.

    With `kill_at`, the `kill_at`-th call returns with a SIGKILL of this process queued on
    the event loop, so it runs before the host's first step after the hook returned."""

    def __init__(self, path: Path, kill_at: int = 0) -> None:
        self.path = path
        self.kill_at = kill_at
        self.calls = 0

    async def on_event(self, job: JobInfo, event: Event) -> None:
        self.calls += 1
        with self.path.open("a") as effects:
            effects.write(current_delivery().key + "\n")
        if self.calls == self.kill_at:
            asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGKILL)

    def keys(self) -> list[str]:
        return self.path.read_text().split() if self.path.exists() else []


async def main(data: Path, name: str, kill_at: int, unrecorded: int, effects: Path) -> None:
    async with (
        EmbeddedLog(data / "log.sqlite", poll_interval=0.005) as log,
        CallbackStore(data / "callbacks.sqlite") as store,
    ):
        callback = Effects(effects, kill_at)
        host = CallbackHost(log, Topics(), callback, store, name=name, unrecorded=unrecorded)
        await host.run(asyncio.Event())


if __name__ == "__main__":
    data, name, kill_at, unrecorded, effects = sys.argv[1:]
    asyncio.run(main(Path(data), name, int(kill_at), int(unrecorded), Path(effects)))
