"""Coalesces events published from request handlers into one Celery task per
batch, so a burst becomes one broker round trip and one ``insert_many``.

``submit(..., wait=True)`` returns once the batch holding the event is on the
broker (an accepted event is durable); ``wait=False`` is fire-and-forget, for
analytics such as product views, where a crash may lose the last few
milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

from anyio import to_thread
from celery import Celery

from sandbox_common.celery import publish
from sandbox_common.logging import get_logger

_log = get_logger(__name__)
# An event, and the future its submitter waits on (None: fire-and-forget).
_Item = tuple[dict[str, Any], asyncio.Future[None] | None]


class BatchPublisher:
    def __init__(
        self,
        celery: Celery,
        task_name: str,
        *,
        max_batch: int = 100,
        linger_seconds: float = 0.01,
        max_pending: int = 10_000,
        extra_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self._celery = celery
        self._extra = dict(extra_kwargs or {})
        self._task = task_name
        self._max_batch = max_batch
        self._linger = linger_seconds
        # None in the queue tells the runner to send what it holds and end.
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=max_pending)
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name=f"batch-publisher:{self._task}")

    async def stop(self) -> None:
        """Publishes everything accepted so far, the batch being gathered included."""
        if self._runner is not None:
            await self._queue.put(None)
            await self._runner
            self._runner = None
        await self._flush_remaining()

    async def submit(self, event: dict[str, Any], *, wait: bool) -> None:
        if not wait:
            try:
                self._queue.put_nowait((event, None))
            except asyncio.QueueFull:
                _log.warning("event dropped: publisher queue full", task=self._task)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((event, future))
        await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch, stopping = [first], False
            deadline = asyncio.get_running_loop().time() + self._linger
            while len(batch) < self._max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._send(batch)
            if stopping:
                return

    async def _send(self, batch: list[_Item]) -> None:
        events = [event for event, _ in batch]
        request_id = next((e.get("request_id") for e in events if e.get("request_id")), None)
        try:
            await to_thread.run_sync(
                lambda: publish(
                    self._celery,
                    self._task,
                    kwargs={"events": events, **self._extra},
                    request_id=request_id,
                )
            )
        except Exception as exc:
            _log.error("batch publish failed", task=self._task, size=len(events),
                       error=type(exc).__name__)  # fmt: skip
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(PublishFailed())
            return
        for _, future in batch:
            if future is not None and not future.done():
                future.set_result(None)

    async def _flush_remaining(self) -> None:
        batch = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                batch.append(item)
        if batch:
            await self._send(batch)


class PublishFailed(Exception):
    """The broker did not take the batch."""
