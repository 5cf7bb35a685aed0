"""A product's stats, kept in Redis as the worker stores events
(activity_service.stats), against the stack's Redis and MongoDB-protocol
server: the read the API makes (service.product_stats) and the worker's side
(tasks.insert_events), on events in a database of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pymongo
import pytest
import redis
from pymongo import AsyncMongoClient
from pymongo.collection import Collection
from redis.asyncio import Redis as AsyncRedis

from activity_service import db, service, stats, tasks
from activity_service.schemas import ProductStats

pytestmark = pytest.mark.integration

DATABASE = "activity_stats_test"


@pytest.fixture(scope="module")
def events(env: dict[str, str]) -> Iterator[Collection[dict[str, Any]]]:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        env["SANDBOX_MONGO_URL"], serverSelectionTimeoutMS=5000, tz_aware=True
    )
    client.drop_database(DATABASE)
    collection = client[DATABASE][db.EVENTS]
    info = client.admin.command("buildInfo")
    for model in db.index_models(expiry=db.expiry_mode("auto", info), retention_days=30):
        collection.create_indexes([model])
    try:
        yield collection
    finally:
        client.drop_database(DATABASE)
        client.close()


@pytest.fixture
def sync_redis(env: dict[str, str]) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(env["SANDBOX_REDIS_URL"], socket_timeout=2)
    try:
        yield client
    finally:
        client.close()


def _event(product_id: str, user_id: str, event_type: str = "product.viewed") -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "type": event_type, "user_id": user_id,
            "object_id": product_id, "occurred_at": datetime.now(UTC).isoformat(),
            "metadata": {}, "request_id": None}  # fmt: skip


def _read(env: dict[str, str], product_id: str, *, redis_url: str | None = None) -> ProductStats:
    """The API's read, with its own clients (as a request of the service would)."""

    async def read() -> ProductStats:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            env["SANDBOX_MONGO_URL"], serverSelectionTimeoutMS=5000, tz_aware=True
        )
        cache = AsyncRedis.from_url(redis_url or env["SANDBOX_REDIS_URL"], socket_timeout=0.5,
                                    socket_connect_timeout=0.5)  # fmt: skip
        try:
            return await service.product_stats(
                events=mongo[DATABASE][db.EVENTS], index=stats.StatsIndex(cache),
                product_id=product_id,
            )  # fmt: skip
        finally:
            await cache.aclose()
            await mongo.close()

    return asyncio.run(read())


def _figures(found: ProductStats) -> tuple[int, int, int]:
    return found.views, found.likes, found.unique_users


def test_stats_are_built_from_the_store_then_read_from_redis(
    env: dict[str, str], events: Collection[dict[str, Any]], sync_redis: redis.Redis
) -> None:
    product = str(uuid.uuid4())
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    # Stored before any set exists, and never added to one: the first read builds it.
    events.insert_many(
        [_event(product, a), _event(product, a), _event(product, b, "product.liked")]
    )
    assert _figures(_read(env, product)) == (2, 1, 2)

    # An event stored behind the worker's back is not counted: the read is Redis's.
    events.insert_one(_event(product, str(uuid.uuid4())))
    assert _figures(_read(env, product)) == (2, 1, 2)

    # The worker's way: stored, then added.
    stored = tasks.insert_events(events, [_event(product, b)], source="task",
                                 stats_redis=sync_redis)  # fmt: skip
    assert stored == 1
    assert _figures(_read(env, product)) == (3, 1, 2)


def test_a_batch_delivered_again_counts_once(
    env: dict[str, str], events: Collection[dict[str, Any]], sync_redis: redis.Redis
) -> None:
    product = str(uuid.uuid4())
    batch = [_event(product, str(uuid.uuid4())) for _ in range(3)]
    assert _figures(_read(env, product)) == (0, 0, 0)  # the set is built, empty
    for expected_stored in (3, 0):
        stored = tasks.insert_events(events, batch, source="task", stats_redis=sync_redis)
        assert stored == expected_stored
        assert _figures(_read(env, product)) == (3, 0, 3)


def test_an_event_stored_while_a_set_is_built_is_counted(
    env: dict[str, str], events: Collection[dict[str, Any]], sync_redis: redis.Redis
) -> None:
    """A read builds from what the store held when it looked; the worker
    adds what it stores after that, so the set is the union."""
    product = str(uuid.uuid4())
    earlier = _event(product, str(uuid.uuid4()))
    events.insert_one(dict(earlier))
    snapshot = list(events.find(stats.store_filter(product), stats.STORE_FIELDS))
    # Stored and added between the read's look at the store and its build.
    tasks.insert_events(events, [_event(product, str(uuid.uuid4()))], source="task",
                        stats_redis=sync_redis)  # fmt: skip

    async def build() -> None:
        cache = AsyncRedis.from_url(env["SANDBOX_REDIS_URL"], socket_timeout=2)
        try:
            index = stats.StatsIndex(cache)
            epoch, found = await index.read(product)
            assert found is None  # added events alone do not make a set complete
            await index.build(epoch, product, stats.product_members(snapshot))
        finally:
            await cache.aclose()

    asyncio.run(build())
    assert _figures(_read(env, product)) == (2, 0, 2)


def test_deleted_events_leave_the_stats(
    env: dict[str, str], events: Collection[dict[str, Any]], sync_redis: redis.Redis
) -> None:
    """An erasure or a purge deletes events, then starts a new epoch: every
    set is built again from the store."""
    product = str(uuid.uuid4())
    gone, stays = str(uuid.uuid4()), str(uuid.uuid4())
    tasks.insert_events(events, [_event(product, gone), _event(product, gone, "product.liked"),
                                 _event(product, stays)], source="task",
                        stats_redis=sync_redis)  # fmt: skip
    assert _figures(_read(env, product)) == (2, 1, 2)
    events.delete_many({"user_id": gone})
    assert _figures(_read(env, product)) == (2, 1, 2)  # Redis does not know yet
    stats.forget_all(sync_redis)
    assert _figures(_read(env, product)) == (1, 0, 1)


def test_without_redis_the_stats_are_counted_in_the_store(
    env: dict[str, str], events: Collection[dict[str, Any]]
) -> None:
    product = str(uuid.uuid4())
    events.insert_many([_event(product, str(uuid.uuid4())) for _ in range(2)])
    # Nothing listens on port 1: every Redis command fails to connect.
    unreachable = "redis://127.0.0.1:1/0"
    assert _figures(_read(env, product, redis_url=unreachable)) == (2, 0, 2)
