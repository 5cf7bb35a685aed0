"""The two mechanisms that keep data right when timing is wrong, against the
stack's real Redis: the product cache's generations and the task ledger."""

from __future__ import annotations

import asyncio
import uuid

import redis

from catalog_service.cache import ProductCache
from sandbox_common.ledger import TaskLedger
from sandbox_common.redis import create_redis


def test_a_fill_that_started_before_a_write_is_discarded(env: dict[str, str]) -> None:
    async def scenario() -> tuple[bytes | None, bytes | None]:
        client = create_redis(env["SANDBOX_REDIS_URL"])
        cache = ProductCache(client, ttl_seconds=60)
        product_id = uuid.uuid4()
        try:
            entry, generation = await cache.get(product_id)  # a reader misses...
            assert entry is None
            assert generation is not None
            await cache.invalidate(product_id)  # ...a write commits and invalidates...
            await cache.fill(product_id, generation, b"old")  # ...the slow fill lands late
            stale, _ = await cache.get(product_id)
            _, fresh_generation = await cache.get(product_id)
            assert fresh_generation is not None
            await cache.fill(product_id, fresh_generation, b"new")  # a fill after the write
            fresh, _ = await cache.get(product_id)
            return stale, fresh
        finally:
            await client.aclose()

    stale, fresh = asyncio.run(scenario())
    assert stale is None
    assert fresh == b"new"


def test_the_ledger_holds_a_task_until_it_is_settled(env: dict[str, str]) -> None:
    ledger = TaskLedger(redis.Redis.from_url(env["SANDBOX_BROKER_URL"]))
    task_id = f"test-{uuid.uuid4()}"
    entry = {"name": "activity.tasks.record_events", "kwargs": {"events": []},
             "queue": "nowhere", "headers": {}}  # fmt: skip
    ledger.record(task_id, entry)
    try:
        assert task_id not in dict(ledger.due(older_than=60))  # too young to re-send
        due = dict(ledger.due(older_than=0))
        assert due[task_id] == entry
        assert task_id not in dict(ledger.due(older_than=5))  # re-sent just now
    finally:
        ledger.settle(task_id)
    assert task_id not in dict(ledger.due(older_than=0))
