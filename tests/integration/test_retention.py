"""Events older than the retention period go: by TTL index on MongoDB, by
the scheduled purge on a server without TTL expiry (FerretDB). Tested on
whichever server the stack runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pymongo import MongoClient

from activity_service import db
from sandbox_common.contract import Tasks
from tests.utils.api import eventually
from tests.utils.broker import producer


def test_expired_events_are_removed(env: dict[str, str]) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(env["SANDBOX_MONGO_URL"], tz_aware=True)
    events = client[env.get("SANDBOX_MONGO_DATABASE", "activity")][db.EVENTS]
    retention = timedelta(days=int(env.get("SANDBOX_ACTIVITY_RETENTION_DAYS", "30")))
    info = client.admin.command("buildInfo")
    indexes = events.index_information()

    if db.expiry_mode("auto", info) == "ttl":
        ttl = indexes[db.TTL_INDEX]
        assert ttl["key"] == [("occurred_at", 1)]
        assert ttl["expireAfterSeconds"] == int(retention.total_seconds())
        return

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

    # The same task beat schedules, run by the real worker.
    producer(env).send_task(Tasks.PURGE_EXPIRED_EVENTS)
    eventually(lambda: events.count_documents({"event_id": old["event_id"]}) == 0,
               what="the expired event purged")  # fmt: skip
    assert events.count_documents({"event_id": fresh["event_id"]}) == 1
    events.delete_many({"object_id": marker})
