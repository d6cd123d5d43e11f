"""The runtime file: `<data_dir>/server.json` names the API of the process holding the views.

The process that serves the API writes it once it listens and removes it when it stops,
so a command line on the same data directory finds the server without being told. A
file left behind by a process that died is recognised by its pid and ignored, and so is
a file written on another host (another container sharing the volume): its pid means
nothing here, and its address is not this host's. There, give the server explicitly
(`--server`, JOBSTREAM_SERVER), as docker-compose.yml does.

A server listening on every address (0.0.0.0, ::) is announced at the loopback address,
which a client on the same host can reach.
"""

from __future__ import annotations

import contextlib
import os
import socket
import urllib.parse
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from jobstream.events.values import now

__all__ = ["RUNTIME_FILE", "RuntimeInfo", "discover", "remove", "write"]

RUNTIME_FILE = "server.json"


_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


class RuntimeInfo(BaseModel):
    url: str
    pid: int
    started: datetime
    hostname: str | None = None  # None: written before hostnames were recorded


def reachable(url: str) -> str:
    """`url` with a wildcard listening address replaced by the loopback one."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host not in _WILDCARDS:
        return url
    local = _WILDCARDS[host]
    shown = f"[{local}]" if ":" in local else local
    netloc = f"{shown}:{parts.port}" if parts.port is not None else shown
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def write(data_dir: Path, url: str) -> RuntimeInfo:
    """Record this process's API address; atomically, so a reader never sees half a file."""
    info = RuntimeInfo(
        url=reachable(url), pid=os.getpid(), started=now(), hostname=socket.gethostname()
    )
    path = data_dir / RUNTIME_FILE
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(info.model_dump_json())
    os.replace(partial, path)
    return info


def remove(data_dir: Path) -> None:
    """Remove the file if this process wrote it (a successor may already have replaced it)."""
    info = _read(data_dir / RUNTIME_FILE)
    if info is not None and info.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            (data_dir / RUNTIME_FILE).unlink()


def discover(data_dir: Path) -> RuntimeInfo | None:
    """The running server's address, or None when there is none (or only a stale file)."""
    info = _read(data_dir / RUNTIME_FILE)
    if info is None or info.hostname not in (None, socket.gethostname()):
        return None
    if not _alive(info.pid):
        return None
    return info


def _read(path: Path) -> RuntimeInfo | None:
    try:
        return RuntimeInfo.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True
