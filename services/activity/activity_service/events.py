"""Events as stored: one shape for both ways in (the HTTP API and the tasks
other services publish), validated the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from activity_service.schemas import EventType, Metadata, ObjectId

IDEMPOTENCY_NAMESPACE = uuid.UUID("0b6f4a52-2f7e-4d0e-9a43-5f1c2f3e8d71")


class StoredEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: str
    type: EventType
    user_id: str
    object_id: ObjectId
    metadata: Metadata
    occurred_at: datetime
    request_id: str | None = None

    @field_validator("event_id", "user_id")
    @classmethod
    def _uuid_text(cls, value: str) -> str:
        return str(uuid.UUID(value))

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return to_stored_time(value)

    def document(self) -> dict[str, Any]:
        return self.model_dump()


def parse_events(raw: list[dict[str, Any]]) -> tuple[list[StoredEvent], int]:
    """Valid events, and how many were rejected (those are logged, never retried)."""
    valid, rejected = [], 0
    for item in raw:
        try:
            valid.append(StoredEvent.model_validate(item))
        except ValidationError:
            rejected += 1
    return valid, rejected


def event_id_for(*, user_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{user_id}:{idempotency_key}"))


def to_stored_time(value: datetime) -> datetime:
    """UTC, truncated to milliseconds as MongoDB stores it, so cursors compare equal."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def now() -> datetime:
    return to_stored_time(datetime.now(UTC))
