"""Celery tasks of the catalog (queue ``catalog``): the outbox relay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from celery import Celery, current_app, shared_task
from sqlalchemy import Engine, delete, func, select, update

from catalog_service.models import OutboxEvent
from sandbox_common import metrics
from sandbox_common.celery import RETRY_OPTIONS, publish, transient_errors
from sandbox_common.db import create_sync_db
from sandbox_common.logging import get_logger
from sandbox_common.resources import PerProcess

_log = get_logger(__name__)
BATCH_SIZE = 100
MAX_BATCHES_PER_RUN = 50
KEEP_SENT = timedelta(days=1)


def _engine_factory() -> Engine:
    return create_sync_db(os.environ["SANDBOX_CATALOG_DATABASE_URL"])


engine = PerProcess(_engine_factory)


def relay_batch(db: Engine, app: Celery | None = None, *, queue: str | None = None) -> int:
    """Publish one batch of unsent rows and mark them sent, in one transaction.

    ``SKIP LOCKED`` lets two relays run at once without sending a row twice
    concurrently; a crash after the publish and before the commit re-sends the
    batch, which the consumer absorbs (it is idempotent on ``event_id``).
    """
    with db.begin() as conn:
        rows = conn.execute(
            select(OutboxEvent.id, OutboxEvent.event)
            .where(OutboxEvent.sent_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(BATCH_SIZE)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        events = [row.event for row in rows]
        publish(app or current_app, "activity.tasks.record_events", kwargs={"events": events},
                request_id=events[0].get("request_id"), queue=queue)  # fmt: skip
        conn.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_([row.id for row in rows]))
            .values(sent_at=func.now())
        )
    return len(rows)


def observe_backlog(db: Engine) -> None:
    with db.connect() as conn:
        count, oldest = conn.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.sent_at.is_(None)
            )
        ).one()
    metrics.OUTBOX_BACKLOG.set(count)
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    metrics.OUTBOX_OLDEST_AGE.set(max(0.0, age))


@shared_task(name="catalog.tasks.relay_outbox", autoretry_for=transient_errors(), **RETRY_OPTIONS)
def relay_outbox() -> None:
    db = engine.get()
    sent = 0
    for _ in range(MAX_BATCHES_PER_RUN):
        count = relay_batch(db)
        sent += count
        if count < BATCH_SIZE:
            break
    with db.begin() as conn:
        conn.execute(delete(OutboxEvent).where(OutboxEvent.sent_at < datetime.now(UTC) - KEEP_SENT))
    observe_backlog(db)
    if sent:
        _log.info("outbox relayed", count=sent)
