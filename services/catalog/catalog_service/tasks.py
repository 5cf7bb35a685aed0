"""Celery tasks of the catalog (queue ``catalog``): the outbox relay."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from celery import Celery, current_app, shared_task
from sqlalchemy import Engine, Row

from catalog_service.config import CatalogDatabaseSettings
from catalog_service.models import OutboxEvent
from sandbox_common import outbox
from sandbox_common.celery import RETRY_OPTIONS, publish, transient_errors
from sandbox_common.contract import Tasks, record_events_kwargs
from sandbox_common.db import create_sync_db
from sandbox_common.logging import get_logger
from sandbox_common.resources import PerProcess

_log = get_logger(__name__)


def _engine_factory() -> Engine:
    return create_sync_db(CatalogDatabaseSettings().catalog_database_url)  # type: ignore[call-arg]


engine = PerProcess(_engine_factory)
# What the relay reads of each row.
RELAYED = (OutboxEvent.event,)


def _sender(app: Celery | None, queue: str | None) -> Callable[[Sequence[Row[Any]]], None]:
    """A batch of product events goes as one ``record_events`` task (the
    consumer is idempotent on ``event_id``)."""

    def send(rows: Sequence[Row[Any]]) -> None:
        events = [row.event for row in rows]
        publish(app or current_app, Tasks.RECORD_EVENTS, kwargs=record_events_kwargs(events),
                request_id=events[0].get("request_id"), queue=queue)  # fmt: skip

    return send


def relay_batch(db: Engine, app: Celery | None = None, *, queue: str | None = None) -> int:
    return outbox.relay_batch(db, OutboxEvent, RELAYED, _sender(app, queue))


@shared_task(name=Tasks.RELAY_CATALOG_OUTBOX, autoretry_for=transient_errors(), **RETRY_OPTIONS)
def relay_outbox() -> None:
    sent = outbox.relay(engine.get(), OutboxEvent, RELAYED, _sender(None, None), outbox="catalog")
    if sent:
        _log.info("outbox relayed", count=sent)
