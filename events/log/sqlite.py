"""SQLite habits shared by the files jobstream keeps (the embedded log, the callback store)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["DatabaseThread", "immediate"]

S = TypeVar("S")
T = TypeVar("T")


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


class DatabaseThread(Generic[S]):
    """An object holding a SQLite connection, kept on a thread of its own: made, used and
    closed there, so the event loop never waits on the disk and the connection (not
    thread-safe) never changes threads.

    `what` names it in errors; `error` is raised when it is used while not open."""

    def __init__(self, what: str, error: type[Exception] = RuntimeError) -> None:
        self.what = what
        self.error = error
        self._executor: ThreadPoolExecutor | None = None
        self._db: S | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    @property
    def db(self) -> S:
        if self._db is None:
            raise self.error(f"{self.what} is not open")
        return self._db

    async def start(self, make: Callable[[], S]) -> None:
        """Make the object on the thread (a second call does nothing)."""
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        try:
            self._db = await self.call(make)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the thread."""
        if self._executor is None:
            raise self.error(f"{self.what} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def close(self, close: Callable[[S], object]) -> None:
        """Run `close(db)` on the thread, then end the thread."""
        executor = self._executor
        if executor is None:
            return
        try:
            if self._db is not None:
                await self.call(close, self._db)
        finally:
            self._db = None
            self._executor = None
            # The thread is idle now: joining it does not hold the event loop up.
            executor.shutdown(wait=True)
