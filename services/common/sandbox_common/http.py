"""Calls to other services: short timeouts, the request id passed on, and
per-target metrics of outcome and latency."""

from __future__ import annotations

import time
from typing import Any

import httpx

from sandbox_common import metrics
from sandbox_common.context import REQUEST_ID_HEADER, current_request_id


def create_client(*, timeout: float = 2.0, max_connections: int = 50) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 1.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=20),
    )


async def get_json(
    client: httpx.AsyncClient,
    url: str,
    *,
    target: str,
    params: dict[str, Any] | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 - httpx's own per-request timeout
) -> Any:
    """GET and decode JSON; raises httpx errors after counting them."""
    headers = {}
    request_id = current_request_id()
    if request_id:
        headers[REQUEST_ID_HEADER] = request_id
    start = time.perf_counter()
    outcome = "error"
    try:
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if timeout is not None:
            kwargs["timeout"] = timeout
        response = await client.get(url, **kwargs)
        response.raise_for_status()
        outcome = "success"
        return response.json()
    except httpx.TimeoutException:
        outcome = "timeout"
        raise
    finally:
        metrics.DEPENDENCY_REQUESTS.labels(target, outcome).inc()
        metrics.DEPENDENCY_DURATION.labels(target).observe(time.perf_counter() - start)
