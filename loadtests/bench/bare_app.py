"""The baseline of the bench: the least a server can do for a cached product read.

A raw ASGI callable, no framework, no middleware, no metrics or logs: parse
the product id from the path, fetch the same two Redis keys the catalog's
product cache reads in one round trip (entry and generation), and return the
entry's bytes. Whatever the catalog spends beyond this is the price of
FastAPI, validation, middleware and observability.

    BENCH_REDIS_URL=redis://127.0.0.1:56379/0 uvicorn bare_app:app --port 18200
"""

from __future__ import annotations

import os
from typing import Any

import redis.asyncio as aioredis

PREFIX = "/api/v1/products/"
KEY_TEMPLATE = os.environ.get("BENCH_KEY_TEMPLATE", "catalog:product:{id}")

_state: dict[str, Any] = {}


async def _respond(send: Any, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
                _state["redis"] = aioredis.Redis.from_url(url)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await _state["redis"].aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path: str = scope["path"]
    if scope["method"] != "GET" or not path.startswith(PREFIX):
        await _respond(send, 404, b'{"detail":"Not Found"}')
        return
    key = KEY_TEMPLATE.format(id=path[len(PREFIX) :])
    entry, _generation = await _state["redis"].mget(key, f"{key}:gen")
    if entry is None:
        await _respond(send, 404, b'{"detail":"not cached"}')
        return
    await _respond(send, 200, entry)
