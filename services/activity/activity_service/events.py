"""Events as activity stores them: the shared contract's
:class:`~sandbox_common.contract.ActivityEvent`, from both ways in (the HTTP
API and the tasks other services publish), validated the same way."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from sandbox_common.contract import ActivityEvent

IDEMPOTENCY_NAMESPACE = uuid.UUID("0b6f4a52-2f7e-4d0e-9a43-5f1c2f3e8d71")


def parse_events(raw: list[dict[str, Any]]) -> tuple[list[ActivityEvent], int]:
    """Valid events, and how many were rejected (those are logged, never retried)."""
    valid, rejected = [], 0
    for item in raw:
        try:
            valid.append(ActivityEvent.model_validate(item))
        except ValidationError:
            rejected += 1
    return valid, rejected


def event_id_for(*, user_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{user_id}:{idempotency_key}"))
