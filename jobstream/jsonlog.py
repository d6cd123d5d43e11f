"""Structured logs: one JSON object per line (`--log-format json`).

Each line has `time` (RFC 3339, UTC), `level`, `logger` and `message`, then every extra
field the call gave (`log.warning("...", extra={"job_id": ...})`), then `exception` with
the traceback when there is one. A log collector (Loki, Elasticsearch, CloudWatch) reads
the fields without a pattern; a line never spans two lines, whatever the message holds.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter"]

# What every LogRecord has: anything else on a record came from `extra` (but uvicorn's
# `color_message`, its message again with terminal colour codes).
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra that JSON cannot hold (a path, a datetime) is still shown.
        return json.dumps(entry, default=str, ensure_ascii=False)
