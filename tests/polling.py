"""Bounded polling for tests that watch other processes or tasks: never a bare sleep, never
endless."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy, and return that; fail after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


async def wait_until(check: Callable[[], T], timeout: float = 20.0) -> T:
    """`eventually` for async tests: polls without blocking the loop the watched tasks run
    on; returns the truthy result, TimeoutError after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := check()):
        if loop.time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s: {check}")
        await asyncio.sleep(0.01)
    return result


async def eventually_async(
    check: Callable[[], Awaitable[T]], timeout: float = 30, interval: float = 0.05
) -> T:
    """`eventually` for a coroutine check, awaited in the test's own event loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        await asyncio.sleep(interval)
