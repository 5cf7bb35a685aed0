"""Trending products: views and likes in a window, likes weighing more.

A ranking is computed by the scheduled task and cached in Redis; the API
reads the cache and computes one itself only when none is cached.

The task sums counters kept at ingest (:class:`Counters`): as the worker
stores events, it adds each new view or like to its product's score in a
bucket of its time (a minute for the 1h window, an hour for 24h, six hours for
7d), and a ranking is the union of the window's buckets, so its cost and the
counters' memory follow the products, not the events. Counting events in the store instead cost the
event store work in proportion to the window's events at every run (FerretDB
v1 reads every event of a type and filters by time itself).

Where the counters do not cover a window, the ranking is aggregated from the
store, as the API's cold path always is: a counter epoch covers the windows
that began after it started (``since``), or all of them when the store held no
view or like then. Erasing a user starts a new epoch, so the erased events
leave every ranking at once. The aggregation pipelines use only ``$match``,
``$group`` with ``$sum``, ``$sort`` and ``$limit``, which MongoDB and FerretDB
v1 both run.

The counters are approximate where a ranking can afford it: the window's
oldest bucket reaches back before the window, so it counts in proportion to its
share inside it (the events spread evenly over the bucket, as far as the ranking
knows); a batch whose counting fails after it was stored (the worker stopped,
or Redis failed to answer) stays uncounted, because its retry finds its events
stored already and duplicates are never counted; and events past a retention
shorter than 7 days still count in the 7d ranking. A bucket keeps only its
BUCKET_MEMBERS highest scores: a product that drops out of one and is seen
again in its time counts from then on, which can only lower scores far below
a top 50.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.client import Pipeline

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
WEIGHTS = {"product.viewed": 1.0, "product.liked": 3.0}
TOP = 50
CANDIDATES_PER_TYPE = 200
# A ranking is computed again once it is older than 1/120 of its window (30 s
# for 1h, 12 min for 24h, 84 min for 7d): never more than about 1 % behind. On
# a server that reads every event of a type for each ranking (FerretDB v1
# filters by time itself), recomputing the long windows every 30 s cost a
# sixth of a core on an idle stack.
STALE_AFTER_SHARE = 1 / 120
# A ranking's age is read from its cache entry's TTL, so it counts from when the
# last run wrote it, after its queries; a run may also start late behind queued
# tasks. A ranking this close to its refresh age is due already, so the 1h one
# is computed at every 30 s run.
AGE_SLACK_SECONDS = 10
# An empty ranking is always stale: nothing is lost by looking again, and a
# fresh store's first events show at once.
EMPTY = b"[]"


def stale_after(window: str) -> timedelta:
    return WINDOWS[window] * STALE_AFTER_SHARE


def cache_ttl_seconds(window: str) -> int:
    """How long a ranking stays cached: twice its refresh age, at least 5 minutes,
    so the API computes one itself only when the scheduled task has stopped."""
    return max(300, int(2 * stale_after(window).total_seconds()))


def is_due(window: str, cached: bytes | None, ttl_left: int) -> bool:
    """Whether the scheduled task should compute ``window``'s ranking again,
    given the cached one and its remaining time to live (Redis TTL: negative
    when there is none)."""
    if cached is None or cached == EMPTY or ttl_left < 0:
        return True
    age = cache_ttl_seconds(window) - ttl_left
    return age >= stale_after(window).total_seconds() - AGE_SLACK_SECONDS


def _is_product_id(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def cache_key(window: str) -> str:
    return f"activity:trending:{window}"


def pipelines(window: str, *, now: datetime) -> dict[str, list[dict[str, Any]]]:
    since = now - WINDOWS[window]
    return {
        event_type: [
            {"$match": {"type": event_type, "occurred_at": {"$gte": since}}},
            {"$group": {"_id": "$object_id", "n": {"$sum": 1}}},
            {"$sort": {"n": -1}},
            {"$limit": CANDIDATES_PER_TYPE},
        ]
        for event_type in WEIGHTS
    }


def combine(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    scores: Counter[str] = Counter()
    for event_type, rows in results.items():
        for row in rows:
            if _is_product_id(row["_id"]):  # events may name objects that are no product
                scores[str(row["_id"])] += WEIGHTS[event_type] * row["n"]
    return rank(scores)


def rank(scores: Mapping[str, float]) -> list[dict[str, Any]]:
    """The top products by score, ties by id."""
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return [{"product_id": pid, "score": score} for pid, score in ranked]


# Each window is summed from buckets of this many seconds: 61, 25 and 29 of
# them, each holding the products seen in its time.
BUCKET_SECONDS = {"1h": 60, "24h": 3600, "7d": 6 * 3600}
# A bucket keeps its highest scores only, so Redis (the broker too, with no
# eviction) holds at most 115 buckets of this many products, however many are
# seen; a top 50 of the union is drawn from far fewer.
BUCKET_MEMBERS = 1000


class Counters:
    """The counters kept at ingest, under ``prefix`` in Redis."""

    def __init__(self, prefix: str = "activity:trending:counters:", *,
                 bucket_members: int = BUCKET_MEMBERS) -> None:  # fmt: skip
        self.prefix = prefix
        self.bucket_members = bucket_members
        self.epoch_key = f"{prefix}epoch"

    def _bucket(self, epoch: bytes | str, window: str, start: int) -> str:
        return f"{self.prefix}{_text(epoch)}:{window}:{start}"

    def _since(self, epoch: bytes | str) -> str:
        return f"{self.prefix}{_text(epoch)}:since"

    def count(self, pipe: Pipeline, epoch: bytes | str, stored: Iterable[Mapping[str, Any]],
              *, now: datetime) -> None:  # fmt: skip
        """Queue on ``pipe`` the counting of newly stored events (never a
        duplicate: it was counted when first stored). A bucket expires when
        its window has passed it."""
        buckets: dict[tuple[str, int], dict[str, float]] = {}
        for event in stored:
            weight = WEIGHTS.get(event["type"])
            if weight is None or not _is_product_id(event["object_id"]):
                continue
            product_id, at = str(event["object_id"]), int(_utc(event["occurred_at"]).timestamp())
            for window, size in BUCKET_SECONDS.items():
                scores = buckets.setdefault((window, at - at % size), {})
                scores[product_id] = scores.get(product_id, 0.0) + weight
        moment = now.timestamp()
        for (window, start), scores in buckets.items():
            expires = start + BUCKET_SECONDS[window] + int(WINDOWS[window].total_seconds())
            if expires <= moment:
                continue
            name = self._bucket(epoch, window, start)
            for product_id, score in scores.items():
                pipe.zincrby(name, score, product_id)
            pipe.zremrangebyrank(name, 0, -self.bucket_members - 1)
            pipe.expireat(name, expires)

    def epoch(self, redis: Redis) -> str:
        return _text(redis.get(self.epoch_key) or "0")

    def start(self, redis: Redis, *, holds_events: Callable[[], bool], now: datetime) -> str:
        """Mark when this epoch's counting began, once: from the beginning of
        time if the store held no view or like (``holds_events``), else now.
        Every event stored after that is counted by the worker that stores it.
        Returns the epoch."""
        epoch = self.epoch(redis)
        if not redis.exists(self._since(epoch)):
            since = now.timestamp() if holds_events() else 0
            redis.set(self._since(epoch), since, nx=True)
        return epoch

    def ranking(self, redis: Redis, window: str, *, now: datetime,
                epoch: str | None = None) -> list[dict[str, Any]] | None:  # fmt: skip
        """The window's ranking from the counters of ``epoch`` (the current one
        unless given); None where they do not cover it: every bucket summed must
        have been counted from its start."""
        epoch = self.epoch(redis) if epoch is None else epoch
        size, moment = BUCKET_SECONDS[window], now.timestamp()
        begins = moment - WINDOWS[window].total_seconds()
        first = int(begins) - int(begins) % size
        since = redis.get(self._since(epoch))
        if since is None or float(since) > first:
            return None
        # The oldest bucket counts for its share inside the window.
        weights = {self._bucket(epoch, window, start): 1.0
                   for start in range(first, int(moment) + 1, size)}  # fmt: skip
        weights[self._bucket(epoch, window, first)] = (first + size - begins) / size
        union = f"{self.prefix}{_text(epoch)}:{window}:union"
        with redis.pipeline(transaction=True) as pipe:
            pipe.zunionstore(union, weights)
            pipe.zrange(union, 0, CANDIDATES_PER_TYPE - 1, desc=True, withscores=True)
            pipe.delete(union)
            _, rows, _ = pipe.execute()
        return rank({_text(member): score for member, score in rows})

    def cache(self, redis: Redis, epoch: str, key: str, value: bytes, *,
              ttl_seconds: int) -> bool:  # fmt: skip
        """Cache a ranking made in ``epoch``, unless an erasure has started
        another since: made before it, the ranking may count the erased events."""
        done = redis.register_script(_SET_IF_EPOCH)(keys=[self.epoch_key, key],
                                                   args=[epoch, value, ttl_seconds])  # fmt: skip
        return bool(done)

    def forget_all(self, redis: Redis) -> None:
        """After a user's events were erased: a new epoch, whose counting starts now."""
        redis.incr(self.epoch_key)


# KEYS[1] the epoch, KEYS[2] the ranking's key; ARGV[1] the epoch it was made
# in, ARGV[2] the ranking, ARGV[3] its TTL.
_SET_IF_EPOCH = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
"""


def forget_all(redis: Redis) -> None:
    """After a user's events were erased: new counters, and the cached rankings
    dropped, so the next run ranks every window again without those events."""
    COUNTERS.forget_all(redis)
    redis.delete(*(cache_key(window) for window in WINDOWS))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


COUNTERS = Counters()
