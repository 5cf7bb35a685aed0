"""Coalesces activity events emitted by request handlers into one
``record_events`` task per batch, so a burst becomes one broker round trip and
one ``insert_many``.

``submit(..., wait=True)`` returns once the batch holding the event is on the
broker (an accepted event is durable); ``wait=False`` is fire-and-forget, for
analytics such as product views, where a crash may lose the last quarter of a
second: while nobody waits for a batch it gathers that long, so views become
a few tasks a second instead of one each.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    of a change committed to a database).

    A batch is sent once it holds ``max_batch`` events or ``linger_seconds``
    after its first one, whichever comes first; while no submitter waits for
    any of its events, it first gathers for up to ``background_linger_seconds``,
    until one does (who waits then waits only ``linger_seconds``). Up to ``max_in_flight`` batches
    are on their way to the broker at once, and the next batch gathers while
    they are: a request waits for its batch's linger and its own send, never
    for the sends before it. With every send slot taken, events wait in the
    queue (up to ``max_pending``; then ``submit(wait=True)`` waits too)."""

    def __init__(
        self,
        celery: Celery,
        *,
        source: EventSource = "task",
        max_batch: int = 100,
        linger_seconds: float = 0.002,
        background_linger_seconds: float = 0.25,
        max_in_flight: int = 2,
        max_pending: int = 10_000,
    ) -> None:
        self._celery = celery
        self._source: EventSource = source
        self._task = Tasks.RECORD_EVENTS
        self._max_batch = max_batch
        self._linger = linger_seconds
        self._background_linger = background_linger_seconds
        self._max_in_flight = max_in_flight
        # None in the queue tells the runner to send what it holds and end.
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=max_pending)
        # Set once a full batch waits: the runner stops lingering.
        self._full = asyncio.Event()
        # Events in the queue whose submitter waits for them, and the signal
        # that one came (or the batch is full): the background linger ends.
        self._waiting = 0
        self._hurry = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run(), name=f"batch-publisher:{self._task}")

    async def stop(self) -> None:
        """Publishes everything accepted so far, the batch being gathered included."""
        if self._runner is not None:
            await self._queue.put(None)
            self._full.set()
            self._hurry.set()
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
            self._note_size()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting += 1
        await self._queue.put((event, future))
        self._hurry.set()
        self._note_size()
        await future

    def _note_size(self) -> None:
        # The runner holds the batch's first event outside the queue.
        if self._queue.qsize() >= self._max_batch - 1:
            self._full.set()
            self._hurry.set()

    def _take(self, item: _Item) -> _Item:
        if item[1] is not None:
            self._waiting -= 1
        return item

    async def _gather(self, first: _Item) -> None:
        """Let the batch ``first`` begins fill, for at most its linger."""
        if self._queue.qsize() >= self._max_batch - 1:
            return
        if first[1] is None and not self._waiting:
            self._hurry.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._hurry.wait(), self._background_linger)
        if self._queue.qsize() < self._max_batch - 1:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._linger)

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self._max_in_flight)
        sending: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            sending.discard(task)
            slots.release()

        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            self._take(first)
            await self._gather(first)
            # While every slot is taken, the next batch keeps gathering.
            await slots.acquire()
            self._full.clear()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(self._take(item))
            task = asyncio.create_task(self._send(batch))
            sending.add(task)
            task.add_done_callback(done)
        if sending:
            await asyncio.wait(sending)

    async def _send(self, batch: list[_Item]) -> None:
        events = [event for event, _ in batch]
        try:
            request_id = next((e.request_id for e in events if e.request_id), None)
            kwargs = record_events_kwargs(events, source=self._source)
            await to_thread.run_sync(
                lambda: publish(self._celery, self._task, kwargs=kwargs, request_id=request_id)
            )
        except BaseException as exc:
            # A failed publish, or a cancelled one (the service stopping
            # mid-send): no waiter is left hanging either way.
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(PublishFailed())
            if not isinstance(exc, Exception):
                raise
            _log.error("batch publish failed", task=self._task, size=len(events),
                       error=type(exc).__name__)  # fmt: skip
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
