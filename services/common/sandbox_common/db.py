"""SQLAlchemy engines with bounded pools, timeouts and pool metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from sandbox_common import metrics

# Explicit constraint names, so Alembic autogenerate and migrations agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class _WaitCountingPool(AsyncAdaptedQueuePool):
    """Counts callers inside checkout, i.e. waiting for a connection."""

    database = "unknown"

    def _do_get(self) -> Any:
        gauge = metrics.DB_POOL_WAITING.labels(self.database)
        gauge.inc()
        try:
            return super()._do_get()
        finally:
            gauge.dec()


def _track_pool(engine_pool: Any, database: str) -> None:
    metrics.DB_POOL_WAITING.labels(database).set(0)  # a series from the start, not the first wait
    in_use = metrics.DB_POOL_CONNECTIONS.labels(database, "in_use")
    idle = metrics.DB_POOL_CONNECTIONS.labels(database, "idle")

    @event.listens_for(engine_pool, "checkout")
    def _checkout(*_: Any) -> None:
        in_use.inc()
        idle.dec()

    @event.listens_for(engine_pool, "checkin")
    def _checkin(*_: Any) -> None:
        in_use.dec()
        idle.inc()

    @event.listens_for(engine_pool, "connect")
    def _connect(*_: Any) -> None:
        idle.inc()

    @event.listens_for(engine_pool, "close")
    def _close(*_: Any) -> None:
        idle.dec()


def create_async_db(url: str, *, database: str, pool_size: int = 10) -> AsyncEngine:
    pool_class = type(f"Pool_{database}", (_WaitCountingPool,), {"database": database})
    engine = create_async_engine(
        url,
        poolclass=pool_class,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 3, "options": "-c statement_timeout=5000"},
    )
    _track_pool(engine.sync_engine.pool, database)
    return engine


def create_sync_db(url: str, *, pool_size: int = 2) -> Engine:
    """For Celery tasks and migrations, which run outside an event loop."""
    return create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=2,
        pool_timeout=10,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5, "options": "-c statement_timeout=30000"},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: a session from ``app.state.sessions`` for one request."""
    async with request.app.state.sessions() as session:
        yield session


def utcnow() -> datetime:
    return datetime.now(UTC)
