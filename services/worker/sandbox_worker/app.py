"""The worker's Celery app: the shared configuration, every service's tasks
and the beat schedule."""

from __future__ import annotations

import importlib
from datetime import timedelta

from celery import Celery
from pydantic import Field

from sandbox_common.celery import connect_signals, create_celery
from sandbox_common.contract import Tasks
from sandbox_common.settings import CommonSettings
from sandbox_common.topology import BEAT_METRICS_PORT, WORKER_METRICS_PORT

TASK_MODULES = (
    "user_service.tasks",
    "catalog_service.tasks",
    "activity_service.tasks",
    "sandbox_worker.tasks",
)


class WorkerSettings(CommonSettings):
    metrics_port: int = WORKER_METRICS_PORT
    worker_concurrency: int = Field(default=4, ge=1)
    worker_queues: str = "user,catalog,activity"
    trending_interval_seconds: float = Field(default=30.0, ge=5.0)
    outbox_relay_interval_seconds: float = Field(default=2.0, gt=0)


class BeatSettings(WorkerSettings):
    metrics_port: int = BEAT_METRICS_PORT


def create_worker_app(settings: WorkerSettings) -> Celery:
    app = create_celery(settings, main="sandbox")
    for module in TASK_MODULES:
        importlib.import_module(module)
    relay = {
        "schedule": timedelta(seconds=settings.outbox_relay_interval_seconds),
        "options": {"expires": settings.outbox_relay_interval_seconds * 5},
    }
    app.conf.beat_schedule = {
        "relay-catalog-outbox": {"task": Tasks.RELAY_CATALOG_OUTBOX, **relay},
        "relay-user-outbox": {"task": Tasks.RELAY_USER_OUTBOX, **relay},
        "compute-trending": {
            "task": Tasks.COMPUTE_TRENDING,
            "schedule": timedelta(seconds=settings.trending_interval_seconds),
            "options": {"expires": settings.trending_interval_seconds},
        },
        "purge-expired-events": {
            "task": Tasks.PURGE_EXPIRED_EVENTS,
            "schedule": timedelta(minutes=10),
        },
        "redeliver-from-ledger": {
            "task": Tasks.REDELIVER,
            "schedule": timedelta(seconds=max(5, min(60, settings.redeliver_after_seconds // 2))),
            "kwargs": {"older_than": settings.redeliver_after_seconds},
        },
        "purge-expired-refresh-tokens": {
            "task": Tasks.PURGE_EXPIRED_TOKENS,
            "schedule": timedelta(hours=1),
        },
    }
    connect_signals()
    return app
