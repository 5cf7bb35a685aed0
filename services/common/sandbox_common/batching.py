"""Coalesces activity events emitted by request handlers into one
``record_events`` task per batch, so a burst becomes one broker round trip and
one ``insert_many``.

``submit(..., wait=True)`` returns once the batch holding the event is on the
broker (an accepted event is durable); ``wait=False`` is fire-and-forget, for
analytics such as product views, where a crash may lose the last few
milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from anyio import to_thread
from celery import Celery
from fastapi import Depends

from sandbox_common.app import from_state
from sandbox_common.celery import publish
from sandbox_common.contract import ActivityEvent, EventSource, Tasks, record_events_kwargs
from sandbox_common.logging import get_logger

_log = get_logger(__name__)
# An event, and the future its submitter waits on (None: fire-and-forget).
_Item = tuple[ActivityEvent, asyncio.Future[None] | None]


class EventPublisher:
    """The way a request handler emits activity events (an outbox is the way
    of a change committed to a database)."""

    def __init__(
        self,
        celery: Celery,
        *,
        source: EventSource = "task",
        max_batch: int = 100,
        linger_seconds: float = 0.01,
        max_pending: int = 10_000,
    ) -> None:
        self._celery = celery
        self._source: EventSource = source
        self._task = Tasks.RECORD_EVENTS
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

    async def submit(self, event: ActivityEvent, *, wait: bool) -> None:
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
        request_id = next((e.request_id for e in events if e.request_id), None)
        kwargs = record_events_kwargs(events, source=self._source)
        try:
            await to_thread.run_sync(
                lambda: publish(self._celery, self._task, kwargs=kwargs, request_id=request_id)
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


# The request handlers' publisher, made by the app's lifespan.
EventPublisherDep = Annotated[EventPublisher, Depends(from_state("event_publisher"))]


class PublishFailed(Exception):
    """The broker did not take the batch."""
