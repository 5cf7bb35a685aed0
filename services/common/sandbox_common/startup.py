"""Start-up work that needs a dependency which may not be up yet (a pod can
start before its database): retried in the background with capped backoff,
so the process starts, answers ``/healthz``, and reports unready meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sandbox_common.logging import get_logger

_log = get_logger(__name__)


async def retry_until_done(
    step: Callable[[], Awaitable[None]], *, what: str, first_delay: float = 0.5,
    max_delay: float = 15.0,
) -> None:  # fmt: skip
    delay = first_delay
    while True:
        try:
            await step()
            return
        except Exception as exc:
            _log.warning(f"{what} waiting for its dependency", error=type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)


@asynccontextmanager
async def in_background(step: Callable[[], Awaitable[None]], *, what: str) -> AsyncIterator[None]:
    """Run ``step`` (retried) beside the app; cancel it if the app stops first."""
    task = asyncio.create_task(retry_until_done(step, what=what), name=what)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
