"""SQLite habits shared by the files jobstream keeps (the embedded log, the callback store)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

__all__ = ["immediate"]


@contextlib.contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction that takes the write lock before its first read.

    A deferred transaction would read, then fail to upgrade when another process wrote in
    between; IMMEDIATE makes read-then-write (like taking the next offset) safe across
    processes."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        # Some errors (a full disk) have rolled back already.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
