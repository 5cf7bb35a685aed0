"""The catalog's app: ``sandbox-serve catalog`` runs :func:`create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog_service.cache import ProductCache
from catalog_service.config import CatalogSettings
from catalog_service.product_reads import ProductReads
from catalog_service.router import categories, products
from sandbox_common.app import create_app as create_service_app
from sandbox_common.auth import jwks_verifier
from sandbox_common.batching import EventPublisher
from sandbox_common.celery import connect_signals, create_celery
from sandbox_common.db import create_async_db, ping, read_engine, session_factory
from sandbox_common.health import ReadinessCheck
from sandbox_common.http import create_client
from sandbox_common.migrate import check_schema, head_revision
from sandbox_common.outbox import drain_kicks
from sandbox_common.redis import create_redis


def create_app(settings: CatalogSettings | None = None, *, observe: bool = True) -> FastAPI:
    settings = settings or CatalogSettings()  # type: ignore[call-arg]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_db(settings.catalog_database_url, database="catalog", pool_size=20)
        redis = create_redis(settings.redis_url)
        http = create_client()
        connect_signals()
        celery = create_celery(settings, main="catalog")
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.read_engine = read_engine(engine)
        app.state.cache = ProductCache(redis, ttl_seconds=settings.product_cache_ttl_seconds)
        app.state.celery = celery
        app.state.event_publisher = EventPublisher(celery)
        app.state.token_verifier = jwks_verifier(settings, client=http)
        app.state.event_publisher.start()
        try:
            yield
        finally:
            await app.state.event_publisher.stop()
            await drain_kicks()
            await http.aclose()
            await redis.aclose()
            await engine.dispose()

    # Unready while the database is behind this code (the migration runs first).
    schema_head = head_revision("catalog")

    def readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
        # Redis is not required: reads fall back to PostgreSQL without it.
        return {
            "postgres": lambda: ping(app.state.engine),
            "schema": lambda: check_schema(app.state.engine, schema_head),
        }

    return create_service_app(
        service="catalog",
        settings=settings,
        routers=[categories, products],
        readiness_checks=readiness,
        lifespan=lifespan,
        observe=observe,
        inner_middleware=[ProductReads],
    )
