"""A product's stats, kept in Redis as events are stored, so a read counts nothing.

Counting a product's events on each read cost the event store work in
proportion to the product's events (FerretDB v1 groups them in its own code),
and the products read most are the ones with most events. Here each product
has one sorted set, a derived index of the event store:

* members are the ids of its view and like events (scores 1 and 2) and the
  users behind them (``u:<user_id>``, score 3), plus a marker (``~complete``,
  score 0) once the set holds every stored event;
* a read counts the three scores (ZCOUNT) in one round trip (one script);
* the worker adds every event of a batch after storing it, duplicates
  included: adding a member twice changes nothing, so a batch delivered again
  counts once;
* a read that finds no marker reads the product's events from the store,
  answers from them and adds them with the marker; an event stored meanwhile is
  added by the worker that stored it, so the union holds every event;
* erasing a user's events or purging expired ones moves an epoch that is part
  of every key, so each set is built again from the store when next read;
* a set expires TTL_SECONDS after it was first written: Redis holds the sets
  of the products read lately, and MongoDB's TTL index, which deletes events
  without telling anyone, shows within that time.

Redis is a cache here: when it cannot answer, the read counts the events in
the store, as before, and the worker retries a batch until its events are
added (they are stored already; storing them again is skipped as duplicates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.client import Pipeline

from activity_service.schemas import ProductStats

VIEW, LIKE, USER = 1, 2, 3
SCORES = {"product.viewed": VIEW, "product.liked": LIKE}
COMPLETE = "~complete"
EPOCH_KEY = "activity:stats:epoch"
KEY_PREFIX = "activity:stats:"
TTL_SECONDS = 3600

# KEYS[1]: the epoch; ARGV[1]: the key prefix, ARGV[2]: the product id.
# The set's key is built here from the epoch, so a read is one round trip
# (a single Redis, as the sandbox runs; a cluster would need the key declared).
_READ = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local key = ARGV[1] .. epoch .. ':' .. ARGV[2]
if not redis.call('ZSCORE', key, ARGV[3]) then return {epoch} end
return {epoch, redis.call('ZCOUNT', key, 1, 1), redis.call('ZCOUNT', key, 2, 2),
        redis.call('ZCOUNT', key, 3, 3)}
"""


# Views and likes: the events stats and trending count.
RANKED: dict[str, Any] = {"type": {"$in": list(SCORES)}}


def store_filter(product_id: str) -> dict[str, Any]:
    """The product's view and like events in the store (index ``object_id_type``)."""
    return {"object_id": product_id, **RANKED}


STORE_FIELDS = {"_id": False, "event_id": True, "type": True, "user_id": True}


def key(epoch: bytes | str, product_id: str) -> str:
    return f"{KEY_PREFIX}{epoch.decode() if isinstance(epoch, bytes) else epoch}:{product_id}"


def members(events: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """The members each product's set gains from these events, by product id."""
    by_product: dict[str, list[Mapping[str, Any]]] = {}
    for event in events:
        if event["type"] in SCORES:
            by_product.setdefault(str(event["object_id"]), []).append(event)
    return {product_id: product_members(found) for product_id, found in by_product.items()}


def product_members(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The members of one product's set, from its view and like events."""
    added: dict[str, int] = {}
    for event in events:
        score = SCORES.get(event["type"])
        if score is not None:
            added[str(event["event_id"])] = score
            added[f"u:{event['user_id']}"] = USER
    return added


def counted(product_id: str, added: Mapping[str, int]) -> ProductStats:
    """A product's stats from its set's members (product_members)."""
    scores = list(added.values())
    return ProductStats(product_id=product_id, views=scores.count(VIEW),
                        likes=scores.count(LIKE), unique_users=scores.count(USER))  # fmt: skip


class StatsIndex:
    """The API's side: read a product's stats, building its set when missing."""

    def __init__(self, redis: AsyncRedis) -> None:
        self._redis = redis
        self._read = redis.register_script(_READ)

    async def read(self, product_id: str) -> tuple[bytes, ProductStats | None]:
        """The epoch, and the stats when the product's set is complete."""
        found = await self._read(keys=[EPOCH_KEY], args=[KEY_PREFIX, product_id, COMPLETE])
        epoch = found[0]
        if len(found) == 1:
            return epoch, None
        views, likes, users = found[1:]
        return epoch, ProductStats(product_id=product_id, views=views, likes=likes,
                                   unique_users=users)  # fmt: skip

    async def build(self, epoch: bytes, product_id: str, added: Mapping[str, int]) -> None:
        """Add the members of the product's stored events (product_members) and
        the marker, in one transaction."""
        name = key(epoch, product_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(name, {**added, COMPLETE: 0})
            pipe.expire(name, TTL_SECONDS, nx=True)
            await pipe.execute()


def add_events(pipe: Pipeline, epoch: bytes | str, events: Iterable[Mapping[str, Any]]) -> None:
    """The worker's side: queue on ``pipe`` the adding of stored events to
    their products' sets of ``epoch`` (the value at EPOCH_KEY)."""
    for product_id, added in members(events).items():
        name = key(epoch, product_id)
        pipe.zadd(name, added)
        pipe.expire(name, TTL_SECONDS, nx=True)


def forget_all(redis: Redis) -> None:
    """After events were deleted: every set is built again when next read."""
    redis.incr(EPOCH_KEY)
