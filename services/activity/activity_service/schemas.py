"""Wire types of the activity service. Metadata is flat, small, and its keys
can never be MongoDB operators or paths."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from sandbox_common.schemas import RequestModel

EVENT_TYPES = (
    "user.registered",
    "product.viewed",
    "product.liked",
    "product.created",
    "product.updated",
    "product.deleted",
)
EventType = Literal[
    "user.registered",
    "product.viewed",
    "product.liked",
    "product.created",
    "product.updated",
    "product.deleted",
]
# The one type a client may post; the others are recorded by the services
# themselves (through Celery), so no client can forge a like, a registration
# or a catalog write.
ClientEventType = Literal["product.viewed"]
MAX_METADATA_KEYS = 16
# 2 KiB: the characters of its keys and values (a number's or boolean's as written).
MAX_METADATA_CHARS = 2048
MAX_KEY_LENGTH = 64
# A key is never a MongoDB operator ($...) or path (a.b), and holds no NUL.
KEY_PATTERN = r"^[^$.\u0000][^.\u0000]*$"
Scalar = str | int | float | bool | None
ObjectId = Annotated[str, StringConstraints(min_length=1, max_length=128,
                                            pattern=r"^[A-Za-z0-9._:-]+$")]  # fmt: skip


def check_flat(value: object) -> object:
    """One clear error for a nested value, not one per member of the Scalar union."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                kind = "an object" if isinstance(item, dict) else "an array"
                raise ValueError(
                    f"metadata must be a flat object: the value of {key!r} is {kind}; "
                    "use a string, a number, a boolean or null"
                )
    return value


def check_metadata(value: dict[str, Scalar]) -> dict[str, Scalar]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"metadata has more than {MAX_METADATA_KEYS} keys")
    for key in value:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise ValueError(f"metadata keys must have 1 to {MAX_KEY_LENGTH} characters")
        if not re.fullmatch(KEY_PATTERN, key):
            raise ValueError("metadata keys may not start with '$' or contain '.'")
    if metadata_size(value) > MAX_METADATA_CHARS:
        raise ValueError(f"metadata has more than {MAX_METADATA_CHARS} characters")
    return value


def metadata_size(value: dict[str, Scalar]) -> int:
    return sum(len(k) + len(v if isinstance(v, str) else orjson.dumps(v)) for k, v in value.items())


Metadata = Annotated[dict[str, Scalar], BeforeValidator(check_flat), AfterValidator(check_metadata)]

# What a client may post: limits a schema can state, chosen so that no
# metadata they admit exceeds the 2 KiB cap (16 keys of at most 32 characters
# and values of at most 96: 2,048 characters in all).
CLIENT_KEY_LENGTH = 32
CLIENT_VALUE_LENGTH = 96
ClientKey = Annotated[
    str, StringConstraints(min_length=1, max_length=CLIENT_KEY_LENGTH, pattern=KEY_PATTERN)
]
# Strict: a JSON string stays a string (a too long one is refused, not read as a number).
ClientScalar = (
    Annotated[str, StringConstraints(max_length=CLIENT_VALUE_LENGTH)]
    | Annotated[int, Field(strict=True, ge=-(2**63), le=2**63 - 1)]  # BSON's integers
    | Annotated[float, Field(strict=True)]
    | Annotated[bool, Field(strict=True)]
    | None
)
_CLIENT_METADATA_SCHEMA = {
    "type": "object",
    "maxProperties": MAX_METADATA_KEYS,
    "propertyNames": {"minLength": 1, "maxLength": CLIENT_KEY_LENGTH, "pattern": KEY_PATTERN},
    "additionalProperties": {
        "anyOf": [
            {"type": "string", "maxLength": CLIENT_VALUE_LENGTH},
            {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    },
}
ClientMetadata = Annotated[
    dict[ClientKey, ClientScalar],
    BeforeValidator(check_flat),
    Field(max_length=MAX_METADATA_KEYS),
    WithJsonSchema(_CLIENT_METADATA_SCHEMA),
]


class EventCreate(RequestModel):
    type: ClientEventType
    object_id: ObjectId
    metadata: ClientMetadata = Field(default_factory=dict)


class EventAccepted(BaseModel):
    event_id: str


class EventPublic(BaseModel):
    event_id: str
    type: str
    user_id: str
    object_id: str
    metadata: dict[str, Scalar]
    occurred_at: datetime
    request_id: str | None


class EventPage(BaseModel):
    items: list[EventPublic]
    next_before: str | None


class ProductStats(BaseModel):
    product_id: str
    views: int
    likes: int
    unique_users: int


class TrendingItem(BaseModel):
    product_id: str
    name: str | None
    score: float


class Trending(BaseModel):
    window: Literal["1h", "24h", "7d"]
    items: list[TrendingItem]
    degraded: bool
