"""Wire types of the activity service. The event and its metadata rules are
the shared contract's (:mod:`sandbox_common.contract`); a client may post a
stricter subset of them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, WithJsonSchema

from sandbox_common.contract import KEY_PATTERN, MAX_METADATA_KEYS, ObjectId, Scalar, check_flat
from sandbox_common.schemas import RequestModel

# The one type a client may post; the others are recorded by the services
# themselves (through Celery), so no client can forge a like, a registration
# or a catalog write.
ClientEventType = Literal["product.viewed"]

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
