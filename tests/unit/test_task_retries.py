"""How long a task keeps trying: one whose message is the only copy of its work
outlasts any outage of its dependency; periodic work keeps a bounded budget."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from celery import Celery
from pymongo.errors import AutoReconnect

from activity_service import stats, trending
from activity_service import tasks as activity_tasks
from sandbox_common.contract import ActivityEvent, Tasks, record_events_kwargs

# Tasks whose message is the only copy of their work: what they carry is lost
# if they give up.
CARRY_WORK = {Tasks.RECORD_EVENTS, Tasks.ERASE_USER, Tasks.ERASE_ACCOUNT, Tasks.SEND_WELCOME}


class _Events:
    """A collection that is unreachable for its first ``failures`` writes."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.stored: list[dict[str, Any]] = []

    def insert_many(self, documents: list[dict[str, Any]], ordered: bool = True) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise AutoReconnect("sandbox-mongo:27017: timed out")
        self.stored.extend(documents)


class _StatsRedis:
    """Where stored events go for the stats (activity_service.stats): recorded."""

    def __init__(self) -> None:
        self.added: dict[str, dict[str, int]] = {}

    def mget(self, *keys: str) -> list[None]:
        return [None for _ in keys]

    def pipeline(self, transaction: bool = True) -> _StatsRedis:
        return self

    def __enter__(self) -> _StatsRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def zadd(self, name: str, mapping: dict[str, int]) -> None:
        self.added.setdefault(name, {}).update(mapping)

    def expire(self, name: str, seconds: int, nx: bool = False) -> None:
        return None

    def zincrby(self, name: str, amount: float, value: str) -> None:
        return None

    def zremrangebyrank(self, name: str, start: int, end: int) -> None:
        return None

    def expireat(self, name: str, when: int) -> None:
        return None

    def execute(self) -> list[object]:
        return []


class _Store:
    def __init__(self, events: _Events) -> None:
        self.events = events
        self.redis = _StatsRedis()


def test_events_are_stored_after_an_outage_longer_than_ten_retries(
    worker_app: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _Events(failures=15)
    store = _Store(events)
    monkeypatch.setattr(activity_tasks.store, "get", lambda: store)
    event = ActivityEvent.new(type="product.viewed", user_id=uuid.uuid4(), object_id=uuid.uuid4())
    task = worker_app.tasks[Tasks.RECORD_EVENTS]
    result = task.apply(kwargs=record_events_kwargs([event]))  # retries run at once, in turn
    assert result.successful(), result.traceback
    assert events.attempts == 16
    assert [doc["event_id"] for doc in events.stored] == [event.event_id]
    # Stored, then counted in the product's stats.
    assert [event.event_id in added for added in store.redis.added.values()] == [True]


def test_tasks_that_carry_work_never_give_up_and_periodic_ones_do(worker_app: Celery) -> None:
    app = worker_app
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert not CARRY_WORK & scheduled
    for name in CARRY_WORK:
        assert app.tasks[name].max_retries is None, name
        assert AutoReconnect in app.tasks[name].autoretry_for, name
    for name in scheduled:
        if name in app.tasks:
            assert app.tasks[name].max_retries is not None, name


class _ErasedEvents:
    """A user's events: ``ranked`` views and likes, and a registration."""

    def __init__(self, ranked: int) -> None:
        self.ranked = ranked

    def delete_many(self, query: dict[str, Any]) -> Any:
        count = self.ranked if "type" in query else 1
        return type("Deleted", (), {"deleted_count": count})()


class _EpochRedis:
    def __init__(self) -> None:
        self.moved: list[str] = []
        self.deleted: list[str] = []

    def incr(self, name: str) -> None:
        self.moved.append(name)

    def delete(self, *names: str) -> None:
        self.deleted.extend(names)


@pytest.mark.parametrize("ranked", [0, 2])
def test_an_erasure_starts_stats_and_trending_again_only_for_views_and_likes(
    worker_app: Celery, monkeypatch: pytest.MonkeyPatch, ranked: int
) -> None:
    """Every account's erasure removes its registration; only removed views or
    likes make the stats and the trending counters start again, and drop the
    cached rankings."""
    redis = _EpochRedis()
    store = type("Store", (), {"events": _ErasedEvents(ranked), "redis": redis})()
    monkeypatch.setattr(activity_tasks.store, "get", lambda: store)
    result = worker_app.tasks[Tasks.ERASE_USER].apply(args=[str(uuid.uuid4())])
    assert result.successful(), result.traceback
    if ranked:
        assert sorted(redis.moved) == sorted([stats.EPOCH_KEY, trending.COUNTERS.epoch_key])
        assert sorted(redis.deleted) == sorted(trending.cache_key(w) for w in trending.WINDOWS)
    else:
        assert redis.moved == redis.deleted == []
