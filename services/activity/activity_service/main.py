"""The activity service's app: ``sandbox-serve activity`` runs :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pymongo import AsyncMongoClient

from activity_service import db, stats
from activity_service.catalog_client import CatalogNames
from activity_service.config import ActivitySettings
from activity_service.event_intake import EventIntake
from activity_service.router import router
from sandbox_common.app import create_app as create_service_app
from sandbox_common.auth import jwks_verifier
from sandbox_common.batching import EventPublisher
from sandbox_common.celery import connect_signals, create_celery
from sandbox_common.health import ReadinessCheck
from sandbox_common.http import create_client
from sandbox_common.logging import get_logger
from sandbox_common.redis import create_redis
from sandbox_common.startup import in_background

_log = get_logger(__name__)


def mongo_client(url: str) -> AsyncMongoClient[dict[str, Any]]:
    return AsyncMongoClient(
        url, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000, socketTimeoutMS=5000,
        maxPoolSize=50, tz_aware=True, appname="sandbox-activity",
    )  # fmt: skip


async def _ensure_indexes(app: FastAPI, settings: ActivitySettings) -> None:
    info = await app.state.mongo.admin.command("buildInfo")
    expiry = db.expiry_mode(settings.activity_expiry, info)
    # One index per command: FerretDB v1 drops the connection on a batch that
    # repeats existing indexes.
    for model in db.index_models(expiry=expiry, retention_days=settings.activity_retention_days):
        await app.state.events.create_indexes([model])
    _log.info("indexes ready", expiry=expiry)


def create_app(settings: ActivitySettings | None = None) -> FastAPI:
    settings = settings or ActivitySettings()  # type: ignore[call-arg]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = mongo_client(settings.mongo_url)
        redis = create_redis(settings.redis_url)
        http = create_client()
        connect_signals()
        celery = create_celery(settings, main="activity")
        app.state.mongo = mongo
        app.state.events = mongo[settings.mongo_database][db.EVENTS]
        app.state.redis = redis
        app.state.stats_index = stats.StatsIndex(redis)
        app.state.event_publisher = EventPublisher(celery, source="api")
        app.state.catalog_names = CatalogNames(
            http, base_url=settings.catalog_url, timeout=settings.catalog_timeout_seconds
        )
        app.state.token_verifier = jwks_verifier(settings, client=http)
        app.state.event_publisher.start()
        try:
            async with in_background(lambda: _ensure_indexes(app, settings), what="index creation"):
                yield
        finally:
            await app.state.event_publisher.stop()
            await http.aclose()
            await redis.aclose()
            await mongo.close()

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        return {
            "mongodb": lambda: app.state.mongo.admin.command("ping"),
            "redis": app.state.redis.ping,
        }

    return create_service_app(
        service="activity",
        settings=settings,
        routers=[router],
        readiness_checks=readiness,
        lifespan=lifespan,
        inner_middleware=[EventIntake],
    )
