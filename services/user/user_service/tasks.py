"""Celery tasks of the user service (queue ``user``). Thin: they take ids,
are idempotent (so late acknowledgement and the outbox's re-sends are safe)
and log with the request id of the HTTP request that caused them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from celery import current_app, shared_task
from sqlalchemy import Engine, Row, String, Uuid, delete, exists, literal, select
from sqlalchemy.dialects.postgresql import insert

from sandbox_common import outbox
from sandbox_common.celery import RETRY_OPTIONS, RETRY_UNTIL_DONE, publish, transient_errors
from sandbox_common.context import current_request_id
from sandbox_common.contract import Tasks
from sandbox_common.db import create_sync_db
from sandbox_common.logging import get_logger
from sandbox_common.resources import PerProcess
from user_service.config import UserDatabaseSettings
from user_service.models import Notification, OutboxTask, RefreshToken, User

_log = get_logger(__name__)


def _engine_factory() -> Engine:
    return create_sync_db(UserDatabaseSettings().user_database_url)  # type: ignore[call-arg]


engine = PerProcess(_engine_factory)


@shared_task(name=Tasks.SEND_WELCOME, autoretry_for=transient_errors(), **RETRY_UNTIL_DONE)
def send_welcome(user_id: str) -> None:
    """Send the welcome notification once (the sandbox's mailbox is a table)."""
    uid = uuid.UUID(user_id)
    statement = (
        insert(Notification)
        .from_select(
            ["id", "user_id", "kind", "request_id"],
            select(
                literal(uuid.uuid4(), Uuid),
                User.id,
                literal("welcome", String),
                literal(current_request_id(), String),
            ).where(User.id == uid, User.deleted_at.is_(None)),
        )
        .on_conflict_do_nothing(constraint="uq_notifications_user_kind")
    )
    with engine.get().begin() as conn:
        sent = conn.execute(statement).rowcount
    if sent:
        _log.info("welcome notification sent", user_id=user_id)
    else:
        _log.info("welcome notification skipped: already sent or account gone", user_id=user_id)


@shared_task(name=Tasks.ERASE_ACCOUNT, autoretry_for=transient_errors(), **RETRY_UNTIL_DONE)
def erase_account(user_id: str) -> None:
    """Delete the account (tokens and notifications cascade), then its activity."""
    uid = uuid.UUID(user_id)
    with engine.get().begin() as conn:
        conn.execute(delete(User).where(User.id == uid, User.deleted_at.is_not(None)))
        still_active = conn.execute(select(exists().where(User.id == uid))).scalar()
    if still_active:
        _log.warning("erase skipped: account is not marked deleted", user_id=user_id)
        return
    publish(current_app, Tasks.ERASE_USER, kwargs={"user_id": user_id})
    _log.info("account erased", user_id=user_id)


@shared_task(name=Tasks.PURGE_EXPIRED_TOKENS, autoretry_for=transient_errors(),
             **RETRY_OPTIONS)  # fmt: skip
def purge_expired_tokens() -> None:
    with engine.get().begin() as conn:
        removed = conn.execute(
            delete(RefreshToken).where(RefreshToken.expires_at < datetime.now(UTC))
        ).rowcount
    _log.info("expired refresh tokens purged", count=removed)


# What the relay reads of each row.
RELAYED = (OutboxTask.task, OutboxTask.kwargs, OutboxTask.request_id)


def _send(rows: Sequence[Row[Any]]) -> None:
    for row in rows:
        publish(current_app, row.task, kwargs=row.kwargs, request_id=row.request_id)


@shared_task(name=Tasks.RELAY_USER_OUTBOX, autoretry_for=transient_errors(), **RETRY_OPTIONS)
def relay_outbox() -> None:
    sent = outbox.relay(engine.get(), OutboxTask, RELAYED, _send, outbox="user")
    if sent:
        _log.info("outbox relayed", count=sent)
