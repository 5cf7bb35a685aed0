"""A product's stats, a user's feed and trending's likes are read through an
index, not by scanning every stored event, on the stack's MongoDB-protocol
server: MongoDB itself, or FerretDB v1 on PostgreSQL with the GIN indexes the
local stack gives it (scripts/ferretdb/postgresql-indexes.sql). Without them
FerretDB scanned the whole collection for each, and those reads grew with the
store.

The queries are the service's own (stats.store_filter, service.feed_filter,
trending.pipelines) on the service's indexes (db.index_models), in a database of its own that is
dropped afterwards. FerretDB on SQLite (a stack without PostgreSQL) pushes
these filters nowhere, so there is nothing to check.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pymongo
import pytest
from pymongo.database import Database

from activity_service import db, service, stats, trending

pytestmark = pytest.mark.integration

DATABASE = "activity_explain_test"
EVENTS = 5_000
PRODUCTS = 100
USERS = 100


@pytest.fixture(scope="module")
def database(env: dict[str, str]) -> Iterator[Database[dict[str, Any]]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        env["SANDBOX_MONGO_URL"], serverSelectionTimeoutMS=5000, tz_aware=True
    )
    info = client.admin.command("buildInfo")
    client.drop_database(DATABASE)
    events = client[DATABASE][db.EVENTS]
    for model in db.index_models(expiry=db.expiry_mode("auto", info), retention_days=30):
        events.create_indexes([model])  # one per command, as the service does
    now = datetime.now(UTC)
    events.insert_many(
        [
            {
                "event_id": str(uuid.uuid4()),
                "type": "product.viewed" if n % 200 else "product.liked",
                "user_id": f"user-{n % USERS}",
                "object_id": f"product-{n % PRODUCTS}",
                "occurred_at": now - timedelta(seconds=n),
                "metadata": {},
            }
            for n in range(EVENTS)
        ]
    )
    try:
        plan = client[DATABASE].command("explain", {"find": db.EVENTS, "filter": {}})
        if db.is_ferretdb(info) and "Node Type" not in json.dumps(plan):
            pytest.skip("FerretDB on SQLite: it pushes these filters to no index")
        yield client[DATABASE]
    finally:
        client.drop_database(DATABASE)
        client.close()


def _read_by_index(plan: dict[str, Any]) -> bool:
    """Whether a plan reads the events through an index: a PostgreSQL plan
    (FerretDB) with an index scan and no sequential one, or a MongoDB plan
    with an IXSCAN and no COLLSCAN."""
    text = json.dumps(plan, default=str)
    if "Node Type" in text:
        return "Index Scan" in text and "Seq Scan" not in text
    return "IXSCAN" in text and "COLLSCAN" not in text


def test_a_products_stats_are_built_from_an_index(database: Database[dict[str, Any]]) -> None:
    """What a product's stats are built from when Redis holds none (stats.py)."""
    query = stats.store_filter("product-7")
    plan = database.command(
        "explain", {"find": db.EVENTS, "filter": query, "projection": stats.STORE_FIELDS}
    )
    assert _read_by_index(plan), json.dumps(plan, default=str)[:4000]
    assert len(list(database[db.EVENTS].find(query, stats.STORE_FIELDS))) == EVENTS // PRODUCTS


def test_a_users_feed_is_read_through_an_index(database: Database[dict[str, Any]]) -> None:
    plan = database.command(
        "explain",
        {
            "find": db.EVENTS,
            "filter": service.feed_filter("user-3", None),
            "sort": dict(service.FEED_ORDER),
            "limit": 21,
        },
    )
    assert _read_by_index(plan), json.dumps(plan, default=str)[:4000]


def test_trending_reads_the_likes_in_a_window_through_an_index(
    database: Database[dict[str, Any]],
) -> None:
    """Likes are a small share of the events (here one in two hundred); views
    are most of them, and a server may rightly scan for those."""
    pipeline = trending.pipelines("24h", now=datetime.now(UTC))["product.liked"]
    plan = database.command("explain", {"aggregate": db.EVENTS, "pipeline": pipeline, "cursor": {}})
    assert _read_by_index(plan), json.dumps(plan, default=str)[:4000]
