"""API tokens: a small SQLite file beside the log, never in the (disposable) DuckDB views.

Only the SHA-256 of a token is stored; the token itself is shown once, when created.
Calls are blocking: the API runs them in a thread, the command line calls them directly.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from jobstream.events.errors import JobstreamError
from jobstream.events.values import now

__all__ = ["Scope", "TokenError", "TokenInfo", "TokenStore", "allows", "hash_token"]

Scope = Literal["read", "write"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created TEXT NOT NULL,
    revoked TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS tokens_active_name ON tokens (name) WHERE revoked IS NULL;
"""


class TokenError(JobstreamError):
    """A token could not be created or revoked (name taken, no such token)."""


class TokenInfo(BaseModel):
    name: str
    scope: Scope
    created: datetime
    revoked: datetime | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def allows(granted: Scope, needed: Scope) -> bool:
    """Write implies read."""
    return granted == "write" or needed == "read"


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, name: str, scope: Scope = "read") -> str:
        """A new token for `name`; the caller shows it once, it is not kept."""
        token = secrets.token_urlsafe(32)
        with self._connect() as conn:
            try:
                conn.execute(
                    "INSERT INTO tokens (name, hash, scope, created) VALUES (?, ?, ?, ?)",
                    (name, hash_token(token), scope, now().isoformat()),
                )
            except sqlite3.IntegrityError:
                raise TokenError(
                    f"a token named {name!r} already exists; revoke it first"
                ) from None
        return token

    def revoke(self, name: str) -> None:
        with self._connect() as conn:
            changed = conn.execute(
                "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL",
                (now().isoformat(), name),
            ).rowcount
        if not changed:
            raise TokenError(f"no active token named {name!r}")

    def list(self, *, include_revoked: bool = False) -> list[TokenInfo]:
        where = "" if include_revoked else "WHERE revoked IS NULL"
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT name, scope, created, revoked FROM tokens {where} ORDER BY created"
            ).fetchall()
        return [TokenInfo(name=n, scope=s, created=c, revoked=r) for n, s, c, r in rows]

    def check(self, token: str) -> TokenInfo | None:
        """The active token's name and scope, or None for an unknown or revoked token."""
        if not self.path.exists():
            return None
        with self._connect() as conn:
            row = conn.execute(
                "SELECT name, scope, created FROM tokens WHERE hash = ? AND revoked IS NULL",
                (hash_token(token),),
            ).fetchone()
        return TokenInfo(name=row[0], scope=row[1], created=row[2]) if row else None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10)) as conn:
            conn.executescript(_SCHEMA)
            with conn:
                yield conn
