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
CACHE_TTL_SECONDS = 300


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
