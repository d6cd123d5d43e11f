"""Where a command's events live: the data directory, and the log the settings choose.

Apart from `jobstream.app` so that the commands that only read or rebuild (`replay`,
`stage`, `callbacks`) open their log without importing the dispatcher and the runner."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from jobstream.events.log.base import EventLog
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.settings import Settings, SettingsError

__all__ = ["data_dir", "open_log"]


def data_dir(settings: Settings) -> Path:
    """The data directory, created owner-only (0700), with this process's umask made 077 so
    every file jobstream writes there (log, views, tokens, health and runtime files, the
    SQLite and DuckDB side files) is 0600. Jobs inherit the umask: their workspaces hold
    interpolated text too. A SettingsError naming it if it cannot be made (a read-only or
    mistyped path), rather than whatever fails first inside."""
    os.umask(0o077)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # An existing directory from before keeps its mode otherwise.
        settings.data_dir.chmod(0o700)
    except OSError as exc:
        raise SettingsError(
            f"cannot create the data directory {settings.data_dir}: {exc.strerror or exc}"
        ) from None
    return settings.data_dir


def open_log(settings: Settings) -> EventLog:
    """The log the settings name: Kafka for a broker, else the embedded log in the data
    directory (made first, owner-only). Not yet open: use it as `async with`."""
    if settings.broker:
        # aiokafka (and the client's compression codecs) only for a broker: the embedded
        # log's commands, `run` among them, never load it.
        from jobstream.events.log.kafka import KafkaLog, parse_broker_url

        # aiokafka logs each failed connection; with no logging set up (a query command)
        # that would print beside the one error line the command line gives.
        logging.getLogger("aiokafka").addHandler(logging.NullHandler())
        session_ms = int(settings.kafka_session_timeout * 1000)
        return KafkaLog(
            parse_broker_url(settings.broker),
            partitions=settings.partitions,
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=max(100, session_ms // 10),
        )
    data_dir(settings)
    return EmbeddedLog(settings.log_path, partitions=settings.partitions)
