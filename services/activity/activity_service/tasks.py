"""Celery tasks of the activity service (queue ``activity``): ingestion,
erasure, trending and retention. Every write is idempotent on ``event_id``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import redis
from celery import shared_task
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from activity_service import db, stats, trending
from activity_service.config import ActivityStoreSettings
from activity_service.events import parse_events
from sandbox_common import metrics
from sandbox_common.celery import RETRY_OPTIONS, RETRY_UNTIL_DONE, transient_errors
from sandbox_common.contract import Tasks
from sandbox_common.logging import get_logger
from sandbox_common.resources import PerProcess

_log = get_logger(__name__)
DUPLICATE_KEY = 11000


class _Store:
    """The worker's MongoDB and Redis, made once per process, indexes ensured."""

    def __init__(self) -> None:
        settings = ActivityStoreSettings()  # type: ignore[call-arg]
        self.retention_days = settings.activity_retention_days
        client: MongoClient[dict[str, Any]] = MongoClient(
            # A short connect timeout: after a restart the server may be at a
            # new address, and each try at the old one waits this long.
            settings.mongo_url, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000,
            socketTimeoutMS=30000, tz_aware=True, appname="sandbox-worker",
        )  # fmt: skip
        self.events: Collection[dict[str, Any]] = client[settings.mongo_database][db.EVENTS]
        self.expiry = db.expiry_mode(settings.activity_expiry, client.admin.command("buildInfo"))
        # One index per command: FerretDB v1 drops the connection on a batch
        # that repeats existing indexes.
        for model in db.index_models(expiry=self.expiry, retention_days=self.retention_days):
            self.events.create_indexes([model])
        self.redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )


store = PerProcess(_Store)


def insert_events(events: Collection[dict[str, Any]], raw: list[dict[str, Any]], *,
                  source: str, stats_redis: redis.Redis | None = None,
                  counters: trending.Counters = trending.COUNTERS) -> int:  # fmt: skip
    """One ``insert_many`` for the whole batch; duplicates are skipped, not
    errors. With ``stats_redis``, in one transaction after that, the batch's
    events go to their products' stats (activity_service.stats), duplicates
    too: one delivered again was stored by an earlier try that may have
    stopped before this step; and the events stored now go to the trending
    ``counters``. Both go to the epochs read before the events were stored:
    an erasure that deletes them and starts new epochs meanwhile leaves them
    out of the new ones."""
    valid, rejected = parse_events(raw)
    if rejected:
        _log.warning("invalid events dropped", count=rejected)
    if not valid:
        return 0
    documents = [event.document() for event in valid]
    if stats_redis is not None:
        stats_epoch, trending_epoch = stats_redis.mget(stats.EPOCH_KEY, counters.epoch_key)
    failed: set[int] = set()
    try:
        events.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
        if others:
            raise
        failed = {e["index"] for e in errors}
    stored = [doc for i, doc in enumerate(documents) if i not in failed]
    if stats_redis is not None:
        with stats_redis.pipeline(transaction=True) as pipe:
            stats.add_events(pipe, stats_epoch or b"0", documents)
            counters.count(pipe, trending_epoch or b"0", stored, now=datetime.now(UTC))
            pipe.execute()
    inserted = Counter(doc["type"] for doc in stored)
    for event_type, count in inserted.items():
        metrics.EVENTS_INGESTED.labels(event_type, source).inc(count)
    return sum(inserted.values())


@shared_task(name=Tasks.RECORD_EVENTS, autoretry_for=transient_errors(),
             **RETRY_UNTIL_DONE)  # fmt: skip
def record_events(events: list[dict[str, Any]], source: str = "task") -> None:
    source = source if source in ("api", "task") else "task"
    s = store.get()
    stored = insert_events(s.events, events, source=source, stats_redis=s.redis)
    _log.info("events recorded", received=len(events), stored=stored)


@shared_task(name=Tasks.ERASE_USER, autoretry_for=transient_errors(), **RETRY_UNTIL_DONE)
def erase_user(user_id: str) -> None:
    """Every event of the user. Their views and likes go first: only when there
    were some do the stats and the trending counters start again (every
    account's erasure removes its registration)."""
    s = store.get()
    ranked = s.events.delete_many({"user_id": user_id, **stats.RANKED}).deleted_count
    removed = ranked + s.events.delete_many({"user_id": user_id}).deleted_count
    if ranked:
        stats.forget_all(s.redis)
        trending.forget_all(s.redis)
    _log.info("user activity erased", user_id=user_id, count=removed)


@shared_task(name=Tasks.COMPUTE_TRENDING, autoretry_for=transient_errors(),
             max_retries=2)  # fmt: skip
def compute_trending() -> None:
    s = store.get()
    computed, counted = refresh_rankings(s.events, s.redis, now=datetime.now(UTC))
    _log.info("trending computed", windows=computed, from_counters=counted)


def refresh_rankings(
    events: Collection[dict[str, Any]], redis_client: redis.Redis, *, now: datetime,
    counters: trending.Counters = trending.COUNTERS,
    key: Callable[[str], str] = trending.cache_key,
) -> tuple[list[str], list[str]]:  # fmt: skip
    """Rank every window again from the counters, or from the store once its
    cached ranking is due, and cache it under ``key(window)``; the windows
    ranked, and those of them from the counters. A ranking is cached only if no
    erasure started a new epoch while it was made."""
    epoch = counters.start(redis_client, holds_events=lambda: _holds_ranked_events(events),
                           now=now)  # fmt: skip
    computed, counted = [], []
    for window in trending.WINDOWS:
        ranking = counters.ranking(redis_client, window, now=now, epoch=epoch)
        if ranking is not None:
            counted.append(window)
        else:
            with redis_client.pipeline(transaction=False) as pipe:
                cached, ttl_left = pipe.get(key(window)).ttl(key(window)).execute()
            if not trending.is_due(window, cached, ttl_left):
                continue
            results = {
                event_type: list(events.aggregate(pipeline))
                for event_type, pipeline in trending.pipelines(window, now=now).items()
            }
            ranking = trending.combine(results)
        if counters.cache(redis_client, epoch, key(window), orjson.dumps(ranking),
                          ttl_seconds=trending.cache_ttl_seconds(window)):  # fmt: skip
            computed.append(window)
    return computed, counted


def _holds_ranked_events(events: Collection[dict[str, Any]]) -> bool:
    return events.find_one(stats.RANKED, {"_id": 1}) is not None


def purge_older_than(events: Collection[dict[str, Any]], cutoff: datetime) -> int:
    return events.delete_many({"occurred_at": {"$lt": cutoff}}).deleted_count


@shared_task(name=Tasks.PURGE_EXPIRED_EVENTS, autoretry_for=transient_errors(),
             **RETRY_OPTIONS)  # fmt: skip
def purge_expired() -> None:
    """Retention where the server has no TTL expiry (FerretDB); on MongoDB the TTL index does it."""
    s = store.get()
    if s.expiry != "purge":
        return
    cutoff = datetime.now(UTC) - timedelta(days=s.retention_days)
    removed = purge_older_than(s.events, cutoff)
    if removed:
        stats.forget_all(s.redis)
    _log.info("expired events purged", count=removed)
