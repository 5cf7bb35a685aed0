"""Trending products: views and likes in a window, likes weighing more.

The pipelines are built here once and run by both the scheduled task (sync
pymongo in the worker) and the API on a cold cache (async pymongo). They use
only ``$match``, ``$group`` with ``$sum``, ``$sort`` and ``$limit``, which
MongoDB and FerretDB v1 both run.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

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
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return [{"product_id": pid, "score": score} for pid, score in ranked]
