"""Metric definitions shared by every process (names in docs/metrics.md) and
the ``/metrics`` exposition, multiprocess-aware.

Labels are bounded: route templates, methods, status classes, task names.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

# Dense between 50 ms and 500 ms, where the SLO is decided.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
)  # fmt: skip

HTTP_REQUESTS = Counter(
    "sandbox_http_requests_total",
    "HTTP requests answered, by route template, method and status class.",
    ["route", "method", "status_class"],
)
HTTP_DURATION = Histogram(
    "sandbox_http_request_duration_seconds",
    "Time from request to the last byte of the response.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_FLIGHT = Gauge(
    "sandbox_http_requests_in_flight",
    "Requests being served right now.",
    multiprocess_mode="livesum",
)
BUILD_INFO = Gauge(
    "sandbox_build_info",
    "Always 1; labels tell the component, its version and Python's.",
    ["component", "version", "python_version"],
    multiprocess_mode="max",
)

DB_POOL_CONNECTIONS = Gauge(
    "sandbox_db_pool_connections",
    "Pooled database connections by state.",
    ["database", "state"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "sandbox_db_pool_waiting",
    "Requests waiting for a pooled database connection.",
    ["database"],
    multiprocess_mode="livesum",
)
CACHE_REQUESTS = Counter(
    "sandbox_cache_requests_total", "Cache look-ups by result.", ["cache", "result"]
)
CACHE_FALLBACKS = Counter(
    "sandbox_cache_fallbacks_total",
    "Reads served from the database because the cache failed.",
    ["cache"],
)
DEPENDENCY_REQUESTS = Counter(
    "sandbox_dependency_requests_total",
    "Calls to other services by target and outcome.",
    ["target", "outcome"],
)
DEPENDENCY_DURATION = Histogram(
    "sandbox_dependency_request_duration_seconds",
    "Duration of calls to other services.",
    ["target"],
    buckets=LATENCY_BUCKETS,
)
JWKS_REFRESHES = Counter(
    "sandbox_jwks_refreshes_total", "Fetches of the user service's JWKS.", ["outcome"]
)

REGISTRATIONS = Counter("sandbox_registrations_total", "Accounts registered.")
LOGINS = Counter("sandbox_logins_total", "Password logins by outcome.", ["outcome"])
PASSWORD_HASHING_IN_PROGRESS = Gauge(
    "sandbox_password_hashing_in_progress",
    "Password hashes and checks running now (bounded by the hashing concurrency).",
    multiprocess_mode="livesum",
)
PASSWORD_HASHING_WAITING = Gauge(
    "sandbox_password_hashing_waiting",
    "Requests waiting for a password-hashing slot.",
    multiprocess_mode="livesum",
)
PASSWORD_HASHING_SHED = Counter(
    "sandbox_password_hashing_shed_total",
    "Requests answered 503 because hashing was at its bounds, by which bound.",
    ["reason"],
)
PRODUCTS_WRITTEN = Counter(
    "sandbox_products_written_total", "Product writes by operation.", ["operation"]
)
EVENTS_INGESTED = Counter(
    "sandbox_events_ingested_total", "Activity events stored, by type and path.", ["type", "source"]
)
OUTBOX_BACKLOG = Gauge(
    "sandbox_outbox_backlog", "Unsent rows in an outbox.", ["outbox"], multiprocess_mode="max"
)
OUTBOX_OLDEST_AGE = Gauge(
    "sandbox_outbox_oldest_age_seconds",
    "Age of the oldest unsent row of an outbox; 0 when it is empty.",
    ["outbox"],
    multiprocess_mode="max",
)

CELERY_TASKS = Counter(
    "sandbox_celery_tasks_total", "Celery task executions by state.", ["task", "state"]
)
CELERY_TASK_STATES = ("started", "succeeded", "failed", "retried")
CELERY_TASK_DURATION = Histogram(
    "sandbox_celery_task_duration_seconds",
    "Run time of Celery tasks.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
# sandbox_celery_queue_length is collected from the broker at scrape time (beat).
CELERY_WORKER_UP = Gauge(
    "sandbox_celery_worker_up",
    "1 while the worker consumes (started, and its broker answers).",
    multiprocess_mode="max",
)
CELERY_BEAT_LAST_TICK = Gauge(
    "sandbox_celery_beat_last_tick_timestamp_seconds",
    "When beat last sent a scheduled task.",
    multiprocess_mode="max",
)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


_REQUEST_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Counts a request and its duration. The labelled series are looked up
    once per route, method and status (``labels()`` validates and locks on
    every call, which showed in the profile of the cached read)."""
    key = (route, method, status)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        series = (HTTP_REQUESTS.labels(route, method, status_class(status)),
                  HTTP_DURATION.labels(route, method))  # fmt: skip
        _REQUEST_SERIES[key] = series
    series[0].inc()
    series[1].observe(seconds)


# The classes every route's counter starts with at 0.
STARTING_CLASSES = ("2xx", "4xx", "5xx")


def initialize_request_series(router: Any) -> None:
    """Every route's request counter at 0 for each class, from the start.

    A series first exported at 1 is invisible to ``rate()``/``increase()``
    (there is no earlier sample to grow from): the first 5xx of a route would
    never reach an error ratio, a dashboard or an alert."""
    for route in router.routes:
        for method in getattr(route, "methods", None) or ():
            for cls in STARTING_CLASSES:
                HTTP_REQUESTS.labels(route.path, method, cls)


def initialize_task_series(task_names: Iterable[str]) -> None:
    """Every task's counter at 0 for each state, from the worker's start: the
    first retry or failure of a task must show in rate() (see above), and an
    alert on retries has a series to read while none has happened."""
    for name in task_names:
        for state in CELERY_TASK_STATES:
            CELERY_TASKS.labels(name, state)


# Metrics without labels have a sample in every process that imports this
# module, 0 where nothing sets them. These belong to some processes only and
# are left out of the others' /metrics (docs/metrics.md, "exported by").
EXPORTED_ONLY_BY = {
    "sandbox_http_requests_in_flight": {"user", "catalog", "activity"},
    "sandbox_registrations": {"user"},
    "sandbox_password_hashing_in_progress": {"user"},
    "sandbox_password_hashing_waiting": {"user"},
    "sandbox_celery_worker_up": {"worker"},
    "sandbox_celery_beat_last_tick_timestamp_seconds": {"beat"},
}
_component: str | None = None


def set_build_info(component: str, version: str) -> None:
    global _component
    _component = component
    BUILD_INFO.labels(component, version, platform.python_version()).set(1)


class _OwnFamilies:
    """A registry's families without those that belong to other processes."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            owners = EXPORTED_ONLY_BY.get(family.name)
            if owners is None or _component is None or _component in owners:
                yield family


def render_latest() -> tuple[bytes, str]:
    """The exposition for this process, or for all worker processes together."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(_OwnFamilies(registry)), CONTENT_TYPE_LATEST
