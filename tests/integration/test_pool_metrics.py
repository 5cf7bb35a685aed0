"""The pool's gauges on a real PostgreSQL: a connection counts as in use from
the moment the pool hands it out, its pre-ping included, so a slow server
shows as connections in use, not as an idle pool."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import text

from sandbox_common.db import create_async_db

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
