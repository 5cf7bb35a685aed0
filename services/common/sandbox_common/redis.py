"""Redis clients with timeouts short enough that a dead Redis degrades a
request instead of hanging it."""

from __future__ import annotations

from redis.asyncio import Redis


def create_redis(url: str, *, timeout: float = 0.5) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        max_connections=100,
    )
