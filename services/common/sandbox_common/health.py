"""``/healthz`` (the process can serve; touches nothing) and ``/readyz`` (every
dependency answers), plus ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response

from sandbox_common.metrics import render_latest
from sandbox_common.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[object]]
CHECK_TIMEOUT_SECONDS = 2.0
HEALTH_PATH, READY_PATH, METRICS_PATH = "/healthz", "/readyz", "/metrics"
# What probes and Prometheus call: no client's request, so neither in the
# access log nor in the request metrics the SLO reads.
OPERATIONAL_PATHS = frozenset({HEALTH_PATH, READY_PATH, METRICS_PATH})


async def _run(check: ReadinessCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return "timeout"
    except Exception:
        # The reason goes to no client: it may name hosts. The dependency's own
        # metrics and logs tell operators more.
        return "failed"
    return "ok"


async def run_checks(checks: Mapping[str, ReadinessCheck]) -> dict[str, str]:
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[name]) for name in names))
    return dict(zip(names, results, strict=True))


def health_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(HEALTH_PATH)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(READY_PATH)
    async def readyz(request: Request) -> JSONResponse:
        checks: Mapping[str, ReadinessCheck] = request.app.state.readiness_checks
        results = await run_checks(checks)
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "unready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get(METRICS_PATH)
    async def metrics_endpoint() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    return router
