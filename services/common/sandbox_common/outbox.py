"""The transactional outbox, for every service with a database: what a change
must cause elsewhere (an activity event, a task) is written as a row in the
same transaction as the change, and a relay task publishes the unsent rows
and marks them sent. A broker outage at the moment of the change loses
nothing; it only delays.

Each service has its own table (its own database): an :class:`OutboxRow`
with the columns of what it sends; the relay is the same for all of them."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio import to_thread
from celery import Celery
from sqlalchemy import (
    BigInteger,
    DateTime,
    Delete,
    Engine,
    Index,
    Row,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from sandbox_common import metrics
from sandbox_common.celery import publish
from sandbox_common.db import utcnow
from sandbox_common.logging import get_logger

_log = get_logger(__name__)


class OutboxRow:
    """The columns and indexes every outbox table has (a declarative mixin)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now()
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:
        return (
            Index("ix_outbox_unsent", "id", postgresql_where="sent_at IS NULL"),
            # The relay forgets rows sent long ago after every run.
            Index("ix_outbox_sent", "sent_at", postgresql_where="sent_at IS NOT NULL"),
        )


BATCH_SIZE = 100
MAX_BATCHES_PER_RUN = 50
KEEP_SENT = timedelta(days=1)


def relay_batch(
    db: Engine, model: Any, columns: Sequence[Any], send: Callable[[Sequence[Row[Any]]], None]
) -> int:
    """Hand one batch of unsent rows to `send` and mark them sent, in one transaction.

    ``SKIP LOCKED`` lets two relays run at once without sending a row twice
    concurrently; a crash after `send` and before the commit sends the batch
    again, which the consumers absorb (they are idempotent).
    """
    with db.begin() as conn:
        rows = conn.execute(
            select(model.id, *columns)
            .where(model.sent_at.is_(None))
            .order_by(model.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        send(rows)
        conn.execute(
            update(model).where(model.id.in_([row.id for row in rows])).values(sent_at=func.now())
        )
    return len(rows)


def relay(
    db: Engine,
    model: Any,
    columns: Sequence[Any],
    send: Callable[[Sequence[Row[Any]]], None],
    *,
    outbox: str,
) -> int:
    """Relay every unsent row (a bounded number of batches), forget rows sent
    long ago, and report the backlog under the `outbox` label. The rows sent."""
    sent = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        count = relay_batch(db, model, columns, send)
        sent += count
        if count < BATCH_SIZE:
            break
    with db.begin() as conn:
        conn.execute(forget_sent(model))
    observe_backlog(db, model, outbox=outbox)
    return sent


def forget_sent(model: Any) -> Delete:
    """Deletes the rows sent more than KEEP_SENT ago; each table's
    ``ix_outbox_sent`` index serves it (it runs after every relay)."""
    return delete(model).where(model.sent_at < datetime.now(UTC) - KEEP_SENT)


def observe_backlog(db: Engine, model: Any, *, outbox: str) -> None:
    with db.connect() as conn:
        count, oldest = conn.execute(
            select(func.count(), func.min(model.created_at)).where(model.sent_at.is_(None))
        ).one()
    metrics.OUTBOX_BACKLOG.labels(outbox).set(count)
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    metrics.OUTBOX_OLDEST_AGE.labels(outbox).set(max(0.0, age))


class _Kicker:
    """Relay kicks of one relay task on one event loop: at most one on its way
    to the broker, and every kick that arrives meanwhile folds into one more
    after it. A commit that ended before a publish began is covered by that
    publish (the relay it starts reads the committed rows)."""

    def __init__(self, celery: Celery, relay_task: str) -> None:
        self._celery = celery
        self._relay_task = relay_task
        self._due = False
        self.sender: asyncio.Task[None] | None = None

    def kick(self) -> None:
        self._due = True
        # A sender that has finished its loop may not have run its callback yet.
        if self.sender is None or self.sender.done():
            self.sender = asyncio.get_running_loop().create_task(self._send())
            self.sender.add_done_callback(self._sent)

    def _sent(self, sender: asyncio.Task[None]) -> None:
        if self.sender is sender:
            self.sender = None  # and with it the last reference to its loop

    async def _send(self) -> None:
        while self._due:
            self._due = False  # a commit after this line kicks again
            try:
                await to_thread.run_sync(lambda: publish(self._celery, self._relay_task, kwargs={}))
            except Exception as exc:
                _log.warning("outbox relay kick failed; beat will relay",
                             error=type(exc).__name__)  # fmt: skip


_kickers: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[Celery, str], _Kicker]
] = weakref.WeakKeyDictionary()


def kick(celery: Celery, relay_task: str) -> None:
    """Ask for a relay now rather than at the next beat, after the commit,
    without the request waiting for the broker (a thread hop and a publish,
    10-110 ms under load). Beat covers a kick that fails (the broker down,
    say), so a failure is only logged."""
    loop = asyncio.get_running_loop()
    kickers = _kickers.setdefault(loop, {})
    kicker = kickers.get((celery, relay_task))
    if kicker is None:
        kicker = kickers[(celery, relay_task)] = _Kicker(celery, relay_task)
    kicker.kick()


async def drain_kicks() -> None:
    """At shutdown: let the kicks on their way reach the broker."""
    senders = [k.sender for k in _kickers.get(asyncio.get_running_loop(), {}).values()]
    await asyncio.gather(*(s for s in senders if s is not None), return_exceptions=True)
