"""The malformed records a producer can write, each as the bytes it puts on a topic.

Each kind is one record that is not a valid event (nor a valid bare job document), named as
docs/reliability.md counts them. Event kinds are written as jobstream's producers write
events (keyed by job id, with a `type` header); document kinds as `kcat -P` writes a bare
job document (no key, no headers)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from jobstream.events.log.base import Message

DIGITS = "1" * 5000
"""A number past Python's integer digit limit (4300)."""

_DOCUMENT = (
    "name: x\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
    "      - action: command\n        cmd: 'true'\n"
)


@dataclass(frozen=True, slots=True)
class Malformed:
    kind: str
    topic: Literal["jobs", "events"]
    value: Callable[[str], bytes]
    """The record's value for a record about job `job_id`."""
    typed: str | None
    """Its `type` header; None for a bare document."""

    def message(self, job_id: str) -> Message:
        if self.typed is None:
            return Message(self.value(job_id))
        return Message(self.value(job_id), key=job_id, headers={"type": self.typed})


def event(kind: str, job_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": str(uuid.uuid4()),
        "job_id": job_id,
        "writer": "attempt-x",
        "seq": 1,
        "at": "2026-12-01T00:00:00Z",
        **fields,
    }


def _json(kind: str, **fields: Any) -> Callable[[str], bytes]:
    return lambda job_id: json.dumps(event(kind, job_id, **fields)).encode()


def _raw(kind: str, replace: str, by: str, **fields: Any) -> Callable[[str], bytes]:
    """JSON that `json.dumps` cannot write (1e999, a lone surrogate): written, then edited."""
    return lambda job_id: json.dumps(event(kind, job_id, **fields)).replace(replace, by).encode()


def _document(extra: str) -> Callable[[str], bytes]:
    return lambda _: (_DOCUMENT + extra).encode()


def _line(n: int) -> dict[str, Any]:
    return {"n": n, "at": "2026-12-01T00:00:00Z", "stream": "stdout", "text": "x"}


MALFORMED: list[Malformed] = [
    # Bare documents whose YAML or JSON makes the parser raise, not report.
    Malformed("yaml-impossible-date", "jobs", _document("labels: {when: 2001-13-45}\n"), None),
    Malformed("yaml-int-tag-abc", "jobs", _document("retry: !!int abc\n"), None),
    Malformed("yaml-float-tag-abc", "jobs", _document("labels: {x: !!float abc}\n"), None),
    Malformed("yaml-bool-tag-maybe", "jobs", _document("labels: {x: !!bool maybe}\n"), None),
    Malformed("yaml-5000-digit-number", "jobs", _document(f"retry: {DIGITS}\n"), None),
    Malformed(
        "json-5000-digit-number",
        "jobs",
        lambda _: ('{"name": "x", "sequence": [], "retry": ' + DIGITS + "}").encode(),
        None,
    ),
    # Events whose values are out of what the views can hold.
    Malformed(
        "heartbeat-lease-1e308",
        "events",
        _json("Heartbeat", lease_seconds=1e308, worker="w"),
        "Heartbeat",
    ),
    Malformed(
        "heartbeat-lease-infinite",
        "events",
        _raw(
            "Heartbeat",
            '"lease_seconds": 1.5',
            '"lease_seconds": 1e999',
            lease_seconds=1.5,
            worker="w",
        ),
        "Heartbeat",
    ),
    Malformed(
        "heartbeat-at-year-9999",
        "events",
        _json("Heartbeat", at="9999-12-31T23:59:59Z", lease_seconds=30, worker="w"),
        "Heartbeat",
    ),
    Malformed(
        "time-before-year-1-in-utc",
        "events",
        _json("StatusChanged", at="0001-01-01T00:00:00+01:00", status="STARTED"),
        "StatusChanged",
    ),
    Malformed(
        "seq-2**63", "events", _json("StatusChanged", seq=2**63, status="STARTED"), "StatusChanged"
    ),
    Malformed(
        "seq-5000-digits",
        "events",
        _raw("StatusChanged", '"seq": 7', f'"seq": {DIGITS}', seq=7, status="STARTED"),
        "StatusChanged",
    ),
    Malformed(
        "line-number-2**63", "events", _json("LogAppended", lines=[_line(2**63)]), "LogAppended"
    ),
    Malformed(
        "attempt-2**31",
        "jobs",
        _json("JobSubmitted", document={"name": "x"}, attempt=2**31),
        "JobSubmitted",
    ),
    Malformed(
        "completed-negative-count",
        "events",
        _json("Completed", success=True, status="SUCCEEDED", lines=-1, bytes=0),
        "Completed",
    ),
    Malformed(
        "lone-surrogate",
        "events",
        _raw("StatusChanged", "SURROGATE", "\\ud800", status="FAILED", reason="SURROGATE"),
        "StatusChanged",
    ),
    Malformed("not-json", "events", lambda _: b"\x00\x01 not json, not yaml: [", "Completed"),
    Malformed("unknown-type", "events", _json("Exploded"), "Exploded"),
    Malformed(
        "two-events-in-one-record",
        "events",
        lambda j: (
            _json("StatusChanged", status="STARTED")(j)
            + b","
            + _json("StatusChanged", status="STARTED", seq=2)(j)
        ),
        "StatusChanged",
    ),
]
"""Every kind, as the reliability tests parametrize them."""

BY_KIND = {m.kind: m for m in MALFORMED}


def split_records(job_id: str) -> list[Message]:
    """Three records that are each invalid, and whose values joined with commas inside
    `[...]` read as valid events: `{..."reason":"abc`, `def"}`, `{ev},{ev}`."""
    head = json.dumps(event("StatusChanged", job_id, seq=9, status="FAILED", reason="abc"))
    a, b = head[: head.index('abc"') + 3], 'def"}'
    both = ",".join(
        json.dumps(event("StatusChanged", job_id, seq=s, status="FAILED")) for s in (10, 11)
    )
    headers = {"type": "StatusChanged"}
    return [Message(v.encode(), key=job_id, headers=headers) for v in (a, b, both)]
