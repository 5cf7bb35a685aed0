"""The request id: taken from a valid incoming ``X-Request-ID`` or made, bound
to structlog's contextvars so every log line, downstream call and Celery task
of the request carries it."""

from __future__ import annotations

import re
import uuid

import structlog

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def is_valid_request_id(value: str | None) -> bool:
    return bool(value) and _VALID_REQUEST_ID.fullmatch(value or "") is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """Keep a well-formed incoming id; replace anything else (log injection, huge values)."""
    return value if value is not None and is_valid_request_id(value) else new_request_id()


def current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None
