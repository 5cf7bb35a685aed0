"""MongoDB layout of the activity service: the ``events`` collection, its
indexes, and how retention is enforced on the server at hand.

MongoDB expires events through a TTL index on ``occurred_at``. FerretDB v1
speaks the same protocol but has no TTL expiry, so there a scheduled purge
(``activity.tasks.purge_expired``) deletes them instead.
"""

from __future__ import annotations

from typing import Any, Literal

from pymongo import ASCENDING, DESCENDING, IndexModel

EVENTS = "events"
TTL_INDEX = "ttl_occurred_at"
Expiry = Literal["ttl", "purge"]


def is_ferretdb(build_info: dict[str, Any]) -> bool:
    return "ferretdbVersion" in build_info or "ferretdb" in str(build_info.get("version", ""))


def expiry_mode(setting: str, build_info: dict[str, Any]) -> Expiry:
    if setting in ("ttl", "purge"):
        return setting  # type: ignore[return-value]
    return "purge" if is_ferretdb(build_info) else "ttl"


def index_models(*, expiry: Expiry, retention_days: int) -> list[IndexModel]:
    models = [
        IndexModel([("event_id", ASCENDING)], name="uq_event_id", unique=True),
        IndexModel(
            [("user_id", ASCENDING), ("occurred_at", DESCENDING), ("event_id", DESCENDING)],
            name="user_id_occurred_at",
        ),
        IndexModel([("object_id", ASCENDING), ("type", ASCENDING)], name="object_id_type"),
        # Trending: one type's events in a window.
        IndexModel([("type", ASCENDING), ("occurred_at", DESCENDING)], name="type_occurred_at"),
    ]
    if expiry == "ttl":
        models.append(
            IndexModel(
                [("occurred_at", ASCENDING)],
                name=TTL_INDEX,
                expireAfterSeconds=retention_days * 86400,
            )
        )
    else:
        models.append(IndexModel([("occurred_at", ASCENDING)], name="occurred_at"))
    return models
