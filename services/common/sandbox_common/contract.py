"""What crosses a service boundary through the broker: the task names and the
activity event.

Every producer builds its events with :meth:`ActivityEvent.new`, so a wrong
event fails where it is made (in the producer's own tests), and the consumer
validates what it receives with the same model. Task names are the constants
of :class:`Tasks`; nothing else spells them. A name is
``<service>.tasks.<name>``: the prefix picks the queue
(:func:`sandbox_common.celery.route_by_service`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, get_args

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    field_validator,
)

from sandbox_common.context import current_request_id


class Tasks:
    """Every task name, in one place."""

    RECORD_EVENTS: Final = "activity.tasks.record_events"
    ERASE_USER: Final = "activity.tasks.erase_user"
    COMPUTE_TRENDING: Final = "activity.tasks.compute_trending"
    PURGE_EXPIRED_EVENTS: Final = "activity.tasks.purge_expired"
    RELAY_CATALOG_OUTBOX: Final = "catalog.tasks.relay_outbox"
    SEND_WELCOME: Final = "user.tasks.send_welcome"
    ERASE_ACCOUNT: Final = "user.tasks.erase_account"
    PURGE_EXPIRED_TOKENS: Final = "user.tasks.purge_expired_tokens"
    RELAY_USER_OUTBOX: Final = "user.tasks.relay_outbox"
    REDELIVER: Final = "sandbox.tasks.redeliver"


TASK_NAMES: tuple[str, ...] = tuple(v for k, v in vars(Tasks).items() if k.isupper())

EventType = Literal[
    "user.registered",
    "product.viewed",
    "product.liked",
    "product.created",
    "product.updated",
    "product.deleted",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# Where an event came from, as ``record_events`` counts it.
EventSource = Literal["api", "task"]

# -- metadata: flat, small, and its keys never MongoDB operators or paths ------------------------

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


# -- the event ------------------------------------------------------------------------------------


def to_stored_time(value: datetime) -> datetime:
    """UTC, truncated to milliseconds as MongoDB stores it, so cursors compare equal."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class ActivityEvent(BaseModel):
    """One activity event, as producers send it and activity stores it.

    Unknown fields are ignored, so a consumer takes messages of a newer
    producer that added one."""

    model_config = ConfigDict(extra="ignore", frozen=True)

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

    @classmethod
    def new(
        cls,
        *,
        type: EventType,
        user_id: str | uuid.UUID,
        object_id: str | uuid.UUID,
        metadata: dict[str, Scalar] | None = None,
        event_id: str | uuid.UUID | None = None,
        occurred_at: datetime | None = None,
    ) -> ActivityEvent:
        """An event of this request (its id rides along), happening now unless told."""
        return cls(
            event_id=str(event_id or uuid.uuid4()),
            type=type,
            user_id=str(user_id),
            object_id=str(object_id),
            metadata=metadata or {},
            occurred_at=occurred_at or datetime.now(UTC),
            request_id=current_request_id(),
        )

    def message(self) -> dict[str, Any]:
        """The JSON form that travels in a task's arguments or an outbox row."""
        return self.model_dump(mode="json")

    def document(self) -> dict[str, Any]:
        """The form activity stores (times stay datetimes)."""
        return self.model_dump()


def record_events_kwargs(
    events: Iterable[ActivityEvent | Mapping[str, Any]], *, source: EventSource = "task"
) -> dict[str, Any]:
    """The arguments of :attr:`Tasks.RECORD_EVENTS` for these events. An
    outbox row holds an event's message already; it goes as stored (the
    consumer validates it, and a row it rejects never blocks the outbox)."""
    messages = [e.message() if isinstance(e, ActivityEvent) else dict(e) for e in events]
    return {"events": messages, "source": source}
