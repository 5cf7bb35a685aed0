"""The two mechanisms that keep data right when timing is wrong, against the
stack's real Redis: the product cache's generations and the task ledger."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import redis

from catalog_service.cache import ProductCache
from sandbox_common.celery import connect_signals, ledger_for, publish, redeliver
from sandbox_common.contract import Tasks
from sandbox_common.ledger import TaskLedger
from sandbox_common.redis import create_redis
from tests.utils.broker import producer


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
    entry = {"name": Tasks.RECORD_EVENTS, "kwargs": {"events": []},
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


def test_the_ledger_leaves_a_task_waiting_in_its_queue(env: dict[str, str]) -> None:
    """With no worker on a queue its tasks wait there: not lost, so not sent
    again (before, every sweep re-sent them all). A task the broker does not
    have is; so is one delivered and unacknowledged (its worker may have died
    holding kombu's restore lock)."""
    app = producer(env)
    queue = f"ledger-test-{uuid.uuid4().hex[:8]}"  # no worker consumes it
    broker = redis.Redis.from_url(env["SANDBOX_BROKER_URL"])
    task = {"name": Tasks.RECORD_EVENTS, "kwargs": {"events": []}}
    ledger = ledger_for(app)
    running = publish(app, task["name"], kwargs=task["kwargs"], queue=queue)
    lost = f"test-{uuid.uuid4()}"
    ledger.record(lost, {**task, "queue": queue, "headers": {}})  # recorded, never sent
    with app.connection_for_read() as connection:
        taken = connection.SimpleQueue(queue, no_ack=False).get(timeout=10)  # delivered, not acked
        waiting = publish(app, task["name"], kwargs=task["kwargs"], queue=queue)
        try:
            redeliver(app, older_than=0)
            in_queue = [orjson.loads(raw)["headers"]["id"] for raw in broker.lrange(queue, 0, -1)]
            assert sorted(in_queue) == sorted([waiting, lost, running])
            assert taken.headers["id"] == running
        finally:
            taken.ack()
            for task_id in (running, lost, waiting):
                ledger.settle(task_id)
            broker.delete(queue)


def test_a_task_its_worker_took_and_lost_comes_back_only_through_the_ledger(
    env: dict[str, str],
) -> None:
    """The failure the ledger covers, and neither late acknowledgement nor the
    outbox does: kombu takes a message off its queue (BRPOP) and only then
    records it as unacknowledged. A worker killed between the two leaves the
    message nowhere; kombu's own restore (of unacknowledged messages) cannot
    bring it back. Here the test is that worker: it pops the message and dies."""
    app = producer(env)
    queue = f"ledger-lost-{uuid.uuid4().hex[:8]}"  # no worker consumes it
    broker = redis.Redis.from_url(env["SANDBOX_BROKER_URL"])
    task_id = publish(app, Tasks.RECORD_EVENTS, kwargs={"events": []}, queue=queue)
    try:
        popped = broker.brpop([queue], timeout=10)
        assert popped is not None
        assert orjson.loads(popped[1])["headers"]["id"] == task_id
        with app.connection_for_write() as connection:
            connection.default_channel.qos.restore_visible(num=1000)  # kombu's restore sweep
        assert broker.llen(queue) == 0, "kombu restored it: the ledger would not be needed"
        assert redeliver(app, older_than=0) >= 1
        in_queue = [orjson.loads(raw)["headers"]["id"] for raw in broker.lrange(queue, 0, -1)]
        assert in_queue == [task_id]
    finally:
        ledger_for(app).settle(task_id)
        broker.delete(queue)


def test_a_retry_waiting_for_its_countdown_is_not_sent_again(env: dict[str, str]) -> None:
    """A retried task goes back with a countdown; a worker holds it,
    unacknowledged, until it is due. Its ledger entry counts from the retry,
    so the sweep does not send a second copy of a task that is only waiting
    (before, a task retried for longer than the re-send delay was)."""
    from celery import signals
    from celery.app.task import Context

    app = producer(env)
    connect_signals()

    @app.task(name="test.tasks.retried")
    def retried() -> None: ...

    ledger = ledger_for(app)
    entry = {"name": retried.name, "kwargs": {}, "queue": "nowhere", "headers": {}}
    waiting, silent = f"test-{uuid.uuid4()}", f"test-{uuid.uuid4()}"
    ledger.record(waiting, entry)
    ledger.record(silent, entry)
    try:
        time.sleep(1.2)
        signals.task_retry.send(sender=retried, request=Context(id=waiting, task=retried.name),
                                reason="countdown")  # fmt: skip
        due = dict(ledger.due(older_than=1))
        assert silent in due  # no news for over a second: re-sent
        assert waiting not in due, "the retry waiting for its countdown was re-sent"
    finally:
        ledger.settle(waiting)
        ledger.settle(silent)
