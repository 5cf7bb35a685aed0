"""What the worker keeps in Redis as it stores events, against the stack's
Redis and MongoDB-protocol server, on events in a database of their own: a
product's stats (activity_service.stats), the read the API makes
(service.product_stats) and the worker's side (tasks.insert_events); and the
trending counters (activity_service.trending.Counters), under a prefix of
their own, against the store's aggregation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pymongo
import pytest
import redis
from pymongo import AsyncMongoClient
from pymongo.collection import Collection
from redis.asyncio import Redis as AsyncRedis

from activity_service import db, service, stats, tasks, trending
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


@pytest.fixture
def counters(sync_redis: redis.Redis) -> Iterator[trending.Counters]:
    """Trending counters of this test alone: the stack's rankings never see its events."""
    found = trending.Counters(prefix=f"test:trending:{uuid.uuid4().hex}:")
    try:
        yield found
    finally:
        names = list(sync_redis.scan_iter(match=f"{found.prefix}*"))
        if names:
            sync_redis.delete(*names)


def _event(product_id: str, user_id: str, event_type: str = "product.viewed",
           at: datetime | None = None) -> dict[str, Any]:  # fmt: skip
    return {"event_id": str(uuid.uuid4()), "type": event_type, "user_id": user_id,
            "object_id": product_id, "occurred_at": (at or datetime.now(UTC)).isoformat(),
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
    env: dict[str, str],
    events: Collection[dict[str, Any]],
    sync_redis: redis.Redis,
    counters: trending.Counters,
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
                                 stats_redis=sync_redis, counters=counters)  # fmt: skip
    assert stored == 1
    assert _figures(_read(env, product)) == (3, 1, 2)


def test_a_batch_delivered_again_counts_once(
    env: dict[str, str],
    events: Collection[dict[str, Any]],
    sync_redis: redis.Redis,
    counters: trending.Counters,
) -> None:
    product = str(uuid.uuid4())
    batch = [_event(product, str(uuid.uuid4())) for _ in range(3)]
    assert _figures(_read(env, product)) == (0, 0, 0)  # the set is built, empty
    for expected_stored in (3, 0):
        stored = tasks.insert_events(events, batch, source="task", stats_redis=sync_redis,
                                     counters=counters)  # fmt: skip
        assert stored == expected_stored
        assert _figures(_read(env, product)) == (3, 0, 3)
    # The trending counters count the events stored, once.
    counters.start(sync_redis, holds_events=lambda: False, now=datetime.now(UTC))
    ranking = counters.ranking(sync_redis, "1h", now=datetime.now(UTC))
    assert ranking == [{"product_id": product, "score": 3.0}]


def test_an_event_stored_while_a_set_is_built_is_counted(
    env: dict[str, str],
    events: Collection[dict[str, Any]],
    sync_redis: redis.Redis,
    counters: trending.Counters,
) -> None:
    """A read builds from what the store held when it looked; the worker
    adds what it stores after that, so the set is the union."""
    product = str(uuid.uuid4())
    earlier = _event(product, str(uuid.uuid4()))
    events.insert_one(dict(earlier))
    snapshot = list(events.find(stats.store_filter(product), stats.STORE_FIELDS))
    # Stored and added between the read's look at the store and its build.
    tasks.insert_events(events, [_event(product, str(uuid.uuid4()))], source="task",
                        stats_redis=sync_redis, counters=counters)  # fmt: skip

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
    env: dict[str, str],
    events: Collection[dict[str, Any]],
    sync_redis: redis.Redis,
    counters: trending.Counters,
) -> None:
    """An erasure or a purge deletes events, then starts a new epoch: every
    set is built again from the store."""
    product = str(uuid.uuid4())
    gone, stays = str(uuid.uuid4()), str(uuid.uuid4())
    tasks.insert_events(events, [_event(product, gone), _event(product, gone, "product.liked"),
                                 _event(product, stays)], source="task",
                        stats_redis=sync_redis, counters=counters)  # fmt: skip
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


def _store_ranking(events: Collection[dict[str, Any]], window: str,
                   now: datetime) -> list[dict[str, Any]]:  # fmt: skip
    results = {event_type: list(events.aggregate(pipeline))
               for event_type, pipeline in trending.pipelines(window, now=now).items()}  # fmt: skip
    return trending.combine(results)


def test_trending_counters_rank_as_the_store_does(
    events: Collection[dict[str, Any]], sync_redis: redis.Redis, counters: trending.Counters
) -> None:
    """Events of a minute ago, two hours and two days: each window ranks what
    the store's aggregation ranks (none is in a window's oldest bucket, which
    counts for its share)."""
    events.delete_many({})
    now = datetime.now(UTC)
    a, b, c, other = (str(uuid.uuid4()) for _ in range(4))
    user = str(uuid.uuid4())
    batch = [
        _event(a, user, at=now - timedelta(minutes=1)),
        _event(a, user, "product.liked", at=now - timedelta(minutes=1)),
        _event(b, user, at=now - timedelta(minutes=1)),
        _event(b, user, at=now - timedelta(hours=2)),
        _event(b, user, "product.liked", at=now - timedelta(hours=2)),
        _event(c, user, "product.liked", at=now - timedelta(days=2)),
        _event(c, user, at=now - timedelta(days=2)),
        _event(a, user, at=now - timedelta(days=8)),  # in no window
        _event("not-a-product", user, at=now - timedelta(minutes=1)),
        _event(other, user, "product.created", at=now - timedelta(minutes=1)),
    ]
    assert tasks.insert_events(events, batch, source="task", stats_redis=sync_redis,
                               counters=counters) == len(batch)  # fmt: skip
    counters.start(sync_redis, holds_events=lambda: False, now=now)
    expected = {
        "1h": [{"product_id": a, "score": 4.0}, {"product_id": b, "score": 1.0}],
        "24h": [{"product_id": b, "score": 5.0}, {"product_id": a, "score": 4.0}],
        "7d": sorted([{"product_id": b, "score": 5.0}, {"product_id": a, "score": 4.0},
                      {"product_id": c, "score": 4.0}],
                     key=lambda row: (-row["score"], row["product_id"])),
    }  # fmt: skip
    for window, ranking in expected.items():
        assert counters.ranking(sync_redis, window, now=now) == ranking, window
        assert _store_ranking(events, window, now) == ranking, window


def test_the_oldest_bucket_counts_for_its_share_of_the_window(
    events: Collection[dict[str, Any]], sync_redis: redis.Redis, counters: trending.Counters
) -> None:
    moment = int(datetime.now(UTC).timestamp())
    bucket = moment - moment % 60 - 3540  # a minute bucket 59 minutes old
    product = str(uuid.uuid4())
    stored = [_event(product, str(uuid.uuid4()), "product.liked",
                     at=datetime.fromtimestamp(bucket + 5, UTC))]  # fmt: skip
    tasks.insert_events(events, stored, source="task", stats_redis=sync_redis,
                        counters=counters)  # fmt: skip
    counters.start(sync_redis, holds_events=lambda: False, now=datetime.now(UTC))
    # The 1h window begins 15 s into the bucket: three quarters of it are inside.
    now = datetime.fromtimestamp(bucket + 3600 + 15, UTC)
    assert counters.ranking(sync_redis, "1h", now=now) == [{"product_id": product, "score": 2.25}]


def test_trending_counters_cover_only_what_they_counted(
    events: Collection[dict[str, Any]], sync_redis: redis.Redis, counters: trending.Counters
) -> None:
    """Counting that began on a store holding events covers a window once the
    window began after it; an erasure starts a new epoch, which covers nothing yet."""
    moment = int(datetime.now(UTC).timestamp())
    began = datetime.fromtimestamp(moment - moment % 60 - 120, UTC)  # on a minute's edge
    an_hour_on = began + timedelta(hours=1)
    counters.start(sync_redis, holds_events=lambda: True, now=began)
    for window in trending.WINDOWS:
        assert counters.ranking(sync_redis, window, now=datetime.now(UTC)) is None
    assert counters.ranking(sync_redis, "1h", now=an_hour_on) == []
    assert counters.ranking(sync_redis, "24h", now=an_hour_on) is None

    product = str(uuid.uuid4())
    tasks.insert_events(events, [_event(product, str(uuid.uuid4()))], source="task",
                        stats_redis=sync_redis, counters=counters)  # fmt: skip
    ranking = counters.ranking(sync_redis, "1h", now=an_hour_on)
    assert ranking == [{"product_id": product, "score": 1.0}]
    counters.forget_all(sync_redis)
    assert counters.ranking(sync_redis, "1h", now=an_hour_on) is None
    counters.start(sync_redis, holds_events=lambda: True, now=began)
    assert counters.ranking(sync_redis, "1h", now=an_hour_on) == []


def test_rankings_come_from_the_counters_where_they_cover_and_else_from_the_store(
    events: Collection[dict[str, Any]], sync_redis: redis.Redis, counters: trending.Counters
) -> None:
    """The scheduled task's work (tasks.refresh_rankings): counting that
    begins on a store holding events covers no window yet, so every window is
    aggregated from the store; an hour on, 1h is summed from the counters,
    which know only what was stored after they began."""
    events.delete_many({})

    def key(window: str) -> str:
        return f"{counters.prefix}ranking:{window}"

    def cached(window: str) -> Any:
        return orjson.loads(sync_redis.get(key(window)) or b"null")

    now = datetime.now(UTC)
    before, after = str(uuid.uuid4()), str(uuid.uuid4())
    user = str(uuid.uuid4())
    # Stored without counting, as events stored before the counters began.
    tasks.insert_events(events, [_event(before, user, at=now - timedelta(minutes=1))],
                        source="task")  # fmt: skip
    assert tasks.refresh_rankings(events, sync_redis, now=now, counters=counters,
                                  key=key) == (list(trending.WINDOWS), [])  # fmt: skip
    for window in trending.WINDOWS:
        assert cached(window) == [{"product_id": before, "score": 1.0}], window

    # Counted; stamped five minutes on, so that it falls in the window of an hour on.
    soon = _event(after, user, at=now + timedelta(minutes=5))
    tasks.insert_events(events, [soon], source="task", stats_redis=sync_redis,
                        counters=counters)  # fmt: skip
    later = now + timedelta(hours=1, minutes=2)
    assert tasks.refresh_rankings(events, sync_redis, now=later, counters=counters,
                                  key=key) == (["1h"], ["1h"])  # fmt: skip
    assert cached("1h") == [{"product_id": after, "score": 1.0}]

    # A ranking made before an erasure's new epoch is not cached.
    epoch = counters.epoch(sync_redis)
    counters.forget_all(sync_redis)
    assert not counters.cache(sync_redis, epoch, key("1h"), b"[]", ttl_seconds=60)
    assert cached("1h") == [{"product_id": after, "score": 1.0}]


def test_a_bucket_keeps_its_highest_scores(
    events: Collection[dict[str, Any]], sync_redis: redis.Redis, counters: trending.Counters
) -> None:
    """Memory stays bounded: buckets of three keep the three products seen most."""
    small = trending.Counters(prefix=counters.prefix, bucket_members=3)  # cleaned up as counters
    products = [str(uuid.uuid4()) for _ in range(5)]
    user, now = str(uuid.uuid4()), datetime.now(UTC)
    batch = [_event(product, user, at=now) for times, product in enumerate(products, 1)
             for _ in range(times)]  # fmt: skip
    tasks.insert_events(events, batch, source="task", stats_redis=sync_redis, counters=small)
    small.start(sync_redis, holds_events=lambda: False, now=now)
    ranking = small.ranking(sync_redis, "1h", now=now)
    assert ranking == [{"product_id": products[i], "score": float(i + 1)} for i in (4, 3, 2)]
    buckets = [name for name in sync_redis.scan_iter(match=f"{small.prefix}*")
               if sync_redis.type(name) == b"zset"]  # fmt: skip
    assert len(buckets) == len(trending.BUCKET_SECONDS)
    assert all(sync_redis.zcard(name) == 3 for name in buckets)
