"""Events older than the retention period go: by TTL index on MongoDB, by
the scheduled purge on a server without TTL expiry (FerretDB). Tested on
whichever server the stack runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pymongo import MongoClient

from activity_service import db
from activity_service.config import ActivityStoreSettings
from sandbox_common.contract import Tasks
from tests.utils.api import eventually
from tests.utils.broker import producer


def test_expired_events_are_removed(env: dict[str, str]) -> None:
    # The settings the worker and the activity service read, from the stack's environment.
    settings = ActivityStoreSettings(
        **{
            k.removeprefix("SANDBOX_").lower(): v
            for k, v in env.items()
            if k.startswith("SANDBOX_")
        }
    )
    client: MongoClient[dict[str, object]] = MongoClient(settings.mongo_url, tz_aware=True)
    events = client[settings.mongo_database][db.EVENTS]
    retention = timedelta(days=settings.activity_retention_days)
    mode = db.expiry_mode(settings.activity_expiry, client.admin.command("buildInfo"))

    if mode == "ttl":
        ttl = events.index_information()[db.TTL_INDEX]
        assert ttl["key"] == [("occurred_at", 1)]
        assert ttl["expireAfterSeconds"] == int(retention.total_seconds())

    marker = f"retention-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    base = {"type": "product.viewed", "user_id": str(uuid.uuid4()), "object_id": marker,
            "metadata": {}, "request_id": None}  # fmt: skip
    old = {
        **base,
        "event_id": str(uuid.uuid4()),
        "occurred_at": now - retention - timedelta(hours=1),
    }
    fresh = {
        **base,
        "event_id": str(uuid.uuid4()),
        "occurred_at": now - retention + timedelta(hours=1),
    }
    events.insert_many([old, fresh])
    try:
        if mode == "purge":
            # The same task beat schedules, run by the real worker.
            producer(env).send_task(Tasks.PURGE_EXPIRED_EVENTS)
        # MongoDB's TTL monitor runs once a minute.
        eventually(lambda: events.count_documents({"event_id": old["event_id"]}) == 0,
                   timeout=20 if mode == "purge" else 120, interval=1,
                   what=f"the expired event removed ({mode})")  # fmt: skip
        assert events.count_documents({"event_id": fresh["event_id"]}) == 1
    finally:
        events.delete_many({"object_id": marker})
