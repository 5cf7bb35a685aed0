"""The pool on a real PostgreSQL: a connection counts as in use from the
moment the pool hands it out, its pre-ping included, so a slow server shows
as connections in use, not as an idle pool; read sessions share the pool
without a transaction around their statement."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text

from sandbox_common.db import create_async_db, read_engine, session_factory

DATABASE = "pool_metrics_test"


def gauges() -> dict[str, float | None]:
    value = REGISTRY.get_sample_value
    return {
        "in_use": value("sandbox_db_pool_connections", {"database": DATABASE, "state": "in_use"}),
        "idle": value("sandbox_db_pool_connections", {"database": DATABASE, "state": "idle"}),
        "waiting": value("sandbox_db_pool_waiting", {"database": DATABASE}),
    }


def test_a_connection_is_in_use_from_hand_out_through_its_pre_ping(env: dict[str, str]) -> None:
    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {"start": gauges()}
        engine = create_async_db(
            env["SANDBOX_CATALOG_DATABASE_URL"], database=DATABASE, pool_size=1
        )
        seen["created"] = gauges()
        ping = engine.dialect.do_ping
        pinged: list[dict[str, float | None]] = []

        def watched_ping(dbapi_connection: Any) -> bool:
            pinged.append(gauges())  # what a scrape during a slow pre-ping reads
            return bool(ping(dbapi_connection))

        engine.dialect.do_ping = watched_ping  # type: ignore[method-assign]
        try:
            async with engine.connect() as conn:  # a new connection: no pre-ping
                await conn.execute(text("SELECT 1"))
                seen["first held"] = gauges()
            seen["first returned"] = gauges()
            async with engine.connect() as conn:  # the pooled one: pre-pinged
                await conn.execute(text("SELECT 1"))
                seen["second held"] = gauges()
            seen["second returned"] = gauges()
        finally:
            await engine.dispose()
        seen["pinged"] = pinged
        return seen

    seen = asyncio.run(scenario())
    idle = {"in_use": 0.0, "idle": 1.0, "waiting": 0.0}
    busy = {"in_use": 1.0, "idle": 0.0, "waiting": 0.0}
    assert seen["created"] == {"in_use": 0.0, "idle": 0.0, "waiting": 0.0}
    assert seen["first held"] == busy
    assert seen["first returned"] == idle
    assert seen["pinged"] == [busy], "a connection being pre-pinged must count as in use"
    assert seen["second held"] == busy
    assert seen["second returned"] == idle


def test_a_read_connection_runs_each_statement_on_its_own_and_returns_a_transactional_one(
    env: dict[str, str],
) -> None:
    """A read connection (read_engine) sends its query without BEGIN (each
    statement is its own transaction, so ``now()`` moves between two of them);
    the same pooled connection, handed to an ordinary session next, is
    transactional again."""

    async def nows(execute: Any) -> tuple[Any, Any]:
        first = (await execute(text("SELECT now()"))).scalar_one()
        await execute(text("SELECT pg_sleep(0.01)"))
        second = (await execute(text("SELECT now()"))).scalar_one()
        return first, second

    async def scenario() -> dict[str, tuple[Any, Any]]:
        engine = create_async_db(env["SANDBOX_CATALOG_DATABASE_URL"], database=DATABASE,
                                 pool_size=1)  # fmt: skip
        try:
            seen = {}
            async with read_engine(engine).connect() as connection:
                seen["read"] = await nows(connection.execute)
            async with session_factory(engine)() as session:
                seen["ordinary"] = await nows(session.execute)
            async with read_engine(engine).connect() as connection:
                seen["read again"] = await nows(connection.execute)
            return seen
        finally:
            await engine.dispose()

    seen = asyncio.run(scenario())
    first, second = seen["read"]
    assert second > first, "a read connection's statements ran in one transaction"
    first, second = seen["ordinary"]
    assert second == first, "the pooled connection came back autocommitting"
    first, second = seen["read again"]
    assert second > first
