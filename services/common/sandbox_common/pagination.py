"""Opaque keyset cursors: base64url of a small JSON list. A cursor that does
not decode to the expected shape is a 400, never a 500."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import orjson
from fastapi import Query

from sandbox_common.errors import ServiceError

MAX_CURSOR_LENGTH = 512
# The query parameter: base64url without padding, as encode_cursor writes it.
# Text of that shape that this service did not issue is a 400 (BadCursor).
Cursor = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_LENGTH, pattern="^[A-Za-z0-9_-]*$",
          description="The `next_cursor` of the previous page, as it was given"),
]  # fmt: skip


class BadCursor(ServiceError):
    status_code = 400
    detail = "Invalid cursor"


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, length: int) -> list[Any]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise BadCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadCursor() from exc
    if not isinstance(values, list) or len(values) != length:
        raise BadCursor()
    return values
