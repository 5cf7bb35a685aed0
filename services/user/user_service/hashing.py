"""Password hashing with bounded concurrency and load shedding.

A password hash (argon2id) is the most expensive thing the sandbox does on
purpose: tens of milliseconds of one core each. Run without a bound, a storm
of logins starts more hashes than there are cores, every one of them slows
down, and the service goes on hashing for clients that gave up long ago.
So at most ``concurrency`` hashes run at once, each in a worker thread (never
on the event loop); at most ``max_waiting`` callers wait for a slot, none
longer than ``max_wait_seconds``. A caller beyond either bound is answered
at once with 503 and ``Retry-After``: it costs nothing and the client knows
when to come back, where queueing would have spent a hash on a client that
was no longer there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import anyio
from anyio import to_thread

from sandbox_common import metrics
from sandbox_common.errors import ServiceError
from user_service import security

T = TypeVar("T")


class HashingOverloaded(ServiceError):
    status_code = 503
    detail = "Too many password checks at once; try again shortly"

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(headers={"Retry-After": str(max(1, retry_after))})


class PasswordHashing:
    """Hashes and verifies passwords in worker threads, ``concurrency`` at a
    time, shedding what cannot start within the bounds (see the module)."""

    def __init__(self, *, concurrency: int, max_waiting: int, max_wait_seconds: float) -> None:
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self.max_wait_seconds = max_wait_seconds
        self._slots = anyio.Semaphore(concurrency)
        self._threads = anyio.CapacityLimiter(concurrency)
        self._waiting = 0
        # Not sooner than a full queue drains; never less than a second.
        self.retry_after = max(1, math.ceil(max_wait_seconds))
        metrics.PASSWORD_HASHING_WAITING.set(0)
        metrics.PASSWORD_HASHING_IN_PROGRESS.set(0)
        for reason in ("queue_full", "waited_too_long"):
            metrics.PASSWORD_HASHING_SHED.labels(reason)

    async def hash(self, password: str) -> str:
        return await self._run(security.hash_password, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """As :func:`security.verify_password`: an unknown account's check
        costs as much as a known one's."""
        return await self._run(security.verify_password, password_hash, password)

    def _shed(self, reason: str) -> HashingOverloaded:
        metrics.PASSWORD_HASHING_SHED.labels(reason).inc()
        return HashingOverloaded(retry_after=self.retry_after)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        if self._slots.value == 0 and self._waiting >= self.max_waiting:
            raise self._shed("queue_full")
        acquired = False
        self._waiting += 1
        metrics.PASSWORD_HASHING_WAITING.inc()
        try:
            with anyio.move_on_after(self.max_wait_seconds):
                await self._slots.acquire()
                acquired = True
        finally:
            self._waiting -= 1
            metrics.PASSWORD_HASHING_WAITING.dec()
        if not acquired:
            raise self._shed("waited_too_long")
        metrics.PASSWORD_HASHING_IN_PROGRESS.inc()
        try:
            return await to_thread.run_sync(function, *args, limiter=self._threads)
        finally:
            metrics.PASSWORD_HASHING_IN_PROGRESS.dec()
            self._slots.release()
