"""SQLAlchemy engines with bounded pools, timeouts and pool metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
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


class _MeasuredPool(AsyncAdaptedQueuePool):
    """A pool that reports its own counts: callers inside checkout (waiting
    for a connection), and connections in use and idle, taken from the pool's
    queue at every hand-out and return. A connection counts as in use from
    the moment the pool hands it out, so the pre-ping of a slow server is
    time in use, not time idle (the ``checkout`` event fires only after it)."""

    database = "unknown"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Looked up once: these are set at every hand-out and return.
        self._in_use = metrics.DB_POOL_CONNECTIONS.labels(self.database, "in_use")
        self._idle = metrics.DB_POOL_CONNECTIONS.labels(self.database, "idle")
        self._waiting = metrics.DB_POOL_WAITING.labels(self.database)

    def publish(self) -> None:
        self._in_use.set(self.checkedout())
        self._idle.set(self.checkedin())

    def _do_get(self) -> Any:
        waiting = self._waiting
        waiting.inc()
        try:
            record = super()._do_get()
        finally:
            waiting.dec()
        self.publish()
        return record

    def _do_return_conn(self, record: Any) -> None:
        super()._do_return_conn(record)
        self.publish()


def create_async_db(url: str, *, database: str, pool_size: int = 10) -> AsyncEngine:
    pool_class = type(f"Pool_{database}", (_MeasuredPool,), {"database": database})
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
    metrics.DB_POOL_WAITING.labels(database).set(0)  # series from the start, not the first wait
    pool = engine.sync_engine.pool
    assert isinstance(pool, _MeasuredPool)
    pool.publish()
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


def read_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine's pool, for requests that read with one statement.

    The connection autocommits, so the read is its query alone: no ``BEGIN``
    before it and no ``ROLLBACK`` when the connection goes back to the pool,
    one round trip to PostgreSQL instead of three. A read of several
    statements, or any write, needs a session (:func:`session_factory`): here
    each statement would see its own snapshot and commit on its own. Reads
    take a connection (``engine.connect()``), not an ORM session: rows come
    back as mappings, with no session, identity map or ORM objects to build.
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A FastAPI dependency: a session of ``app.state.sessions`` for one request."""
    async with request.app.state.sessions() as session:
        yield session


async def read_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """A FastAPI dependency: a connection of ``app.state.read_engine`` (read_engine)."""
    async with request.app.state.read_engine.connect() as connection:
        yield connection


def utcnow() -> datetime:
    return datetime.now(UTC)
