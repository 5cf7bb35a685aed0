"""Wire types of the activity service. Metadata is flat, small, and its keys
can never be MongoDB operators or paths."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

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
MAX_METADATA_BYTES = 2048
MAX_KEY_LENGTH = 64
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
        if key.startswith("$") or "." in key or "\x00" in key:
            raise ValueError("metadata keys may not start with '$' or contain '.'")
    if len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes")
    return value


Metadata = Annotated[dict[str, Scalar], BeforeValidator(check_flat), AfterValidator(check_metadata)]


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ClientEventType
    object_id: ObjectId
    metadata: Metadata = Field(default_factory=dict)


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
