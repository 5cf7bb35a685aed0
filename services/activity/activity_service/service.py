"""The activity service's read logic and ingestion hand-off."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pymongo.asynchronous.collection import AsyncCollection
from redis.asyncio import Redis
from redis.exceptions import RedisError

from activity_service import stats, trending
from activity_service.catalog_client import CatalogNames
from activity_service.events import event_id_for
from activity_service.schemas import (
    EventAccepted,
    EventCreate,
    EventPage,
    EventPublic,
    ProductStats,
    Trending,
    TrendingItem,
)
from sandbox_common.auth import Principal
from sandbox_common.batching import EventPublisher, PublishFailed
from sandbox_common.contract import ActivityEvent
from sandbox_common.errors import ServiceError
from sandbox_common.logging import get_logger
from sandbox_common.pagination import BadCursor, decode_cursor, encode_cursor

_log = get_logger(__name__)


class IngestUnavailable(ServiceError):
    status_code = 503
    detail = "Cannot accept events right now; try again"


async def accept_event(
    *, publisher: EventPublisher, principal: Principal, body: EventCreate,
    idempotency_key: str | None,
) -> EventAccepted:  # fmt: skip
    event_id = event_id_for(user_id=principal.user_id, idempotency_key=idempotency_key)
    event = ActivityEvent.new(type=body.type, user_id=principal.user_id, object_id=body.object_id,
                              metadata=body.metadata, event_id=event_id)  # fmt: skip
    try:
        await publisher.submit(event, wait=True)
    except PublishFailed as exc:
        raise IngestUnavailable() from exc
    return EventAccepted(event_id=event_id)


def _parse_before(before: str) -> tuple[datetime, str]:
    occurred_at, event_id = decode_cursor(before, length=2)
    try:
        parsed = datetime.fromisoformat(occurred_at)
        return parsed.astimezone(UTC), str(uuid.UUID(event_id))
    except (TypeError, ValueError, AttributeError) as exc:
        raise BadCursor("Invalid before cursor") from exc


FEED_ORDER = [("occurred_at", -1), ("event_id", -1)]


def feed_filter(user_id: str, before: str | None) -> dict[str, Any]:
    """A user's events, those after the ``before`` cursor when one is given."""
    query: dict[str, Any] = {"user_id": user_id}
    if before is not None:
        at, event_id = _parse_before(before)
        query["$or"] = [
            {"occurred_at": {"$lt": at}},
            {"occurred_at": at, "event_id": {"$lt": event_id}},
        ]
    return query


async def feed(
    *, events: AsyncCollection[dict[str, Any]], user_id: str, limit: int, before: str | None
) -> EventPage:
    cursor = events.find(feed_filter(user_id, before), {"_id": 0}).sort(FEED_ORDER).limit(limit + 1)
    docs = await cursor.to_list(length=limit + 1)
    next_before = None
    if len(docs) > limit:
        docs = docs[:limit]
        last = docs[-1]
        at = last["occurred_at"].replace(tzinfo=UTC)
        next_before = encode_cursor([at.isoformat(), last["event_id"]])
    items = []
    for doc in docs:
        doc["occurred_at"] = doc["occurred_at"].replace(tzinfo=UTC)
        items.append(EventPublic.model_validate(doc))
    return EventPage(items=items, next_before=next_before)


async def product_stats(
    *, events: AsyncCollection[dict[str, Any]], index: stats.StatsIndex, product_id: str
) -> ProductStats:
    """From the product's set in Redis (activity_service.stats); from the store
    when the set is not built yet, which builds it, or when Redis cannot answer."""
    epoch: bytes | None = None
    try:
        epoch, counted = await index.read(product_id)
    except RedisError as exc:
        _log.warning("stats index unavailable", error=type(exc).__name__)
    else:
        if counted is not None:
            return counted
    cursor = events.find(stats.store_filter(product_id), stats.STORE_FIELDS)
    added = stats.product_members(await cursor.to_list())
    if epoch is not None:
        with contextlib.suppress(RedisError):
            await index.build(epoch, product_id, added)
    return stats.counted(product_id, added)


async def compute_trending(
    events: AsyncCollection[dict[str, Any]], window: str
) -> list[dict[str, Any]]:
    results = {}
    for event_type, pipeline in trending.pipelines(window, now=datetime.now(UTC)).items():
        results[event_type] = await (await events.aggregate(pipeline)).to_list()
    return trending.combine(results)


async def trending_products(
    *,
    events: AsyncCollection[dict[str, Any]],
    redis: Redis,
    names: CatalogNames,
    window: str,
    limit: int,
) -> Trending:
    """The scheduled ranking from Redis; computed here only when none is cached."""
    ranking: list[dict[str, Any]] | None = None
    try:
        cached = await redis.get(trending.cache_key(window))
        ranking = orjson.loads(cached) if cached else None
    except RedisError as exc:
        _log.warning("trending cache unavailable", error=type(exc).__name__)
    if ranking is None:
        ranking = await compute_trending(events, window)
        with contextlib.suppress(RedisError):
            await redis.set(trending.cache_key(window), orjson.dumps(ranking),
                            ex=trending.cache_ttl_seconds(window))  # fmt: skip
    top = ranking[:limit]
    found, degraded = await names.names([row["product_id"] for row in top])
    items = [TrendingItem(product_id=row["product_id"], name=found.get(row["product_id"]),
                          score=row["score"]) for row in top]  # fmt: skip
    return Trending(window=window, items=items, degraded=degraded)  # type: ignore[arg-type]
