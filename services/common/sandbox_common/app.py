"""The FastAPI factory every service uses: logging, middleware, error format,
health and metrics routes, build info. A service brings its routers, its
lifespan and its readiness checks."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi_offline import FastAPIOffline

from sandbox_common import __version__
from sandbox_common.errors import install_error_handlers
from sandbox_common.health import ReadinessCheck, health_router
from sandbox_common.logging import configure_logging
from sandbox_common.metrics import initialize_request_series, set_build_info
from sandbox_common.middleware import RequestMiddleware
from sandbox_common.settings import CommonSettings

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def from_state(name: str) -> Callable[[Request], Coroutine[Any, Any, Any]]:
    """A dependency giving ``app.state.<name>``, made by the app's lifespan.

    ``async``: FastAPI runs a plain ``def`` dependency in a thread pool, which
    on the cached read path cost more than the Redis read itself."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"state_{name}"
    return dependency


@asynccontextmanager
async def _no_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield


def create_app(
    *,
    service: str,
    settings: CommonSettings,
    routers: Sequence[APIRouter],
    readiness_checks: Callable[[FastAPI], Mapping[str, ReadinessCheck]],
    lifespan: Lifespan = _no_lifespan,
    observe: bool = True,
    inner_middleware: Sequence[type[Any]] = (),
) -> FastAPI:
    """The service's app. ``inner_middleware`` run inside the request
    middleware (each request's id, metrics and access line) and before
    FastAPI's routing, in the order given."""
    configure_logging(service=service, level=settings.log_level, fmt=settings.log_format)
    set_build_info(service, __version__)

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            app.state.readiness_checks = readiness_checks(app)
            # What start-up made (the app, its routes and models, the clients)
            # lives as long as the process: out of the collector's reach, a
            # full collection no longer walks it, which under load stalled
            # every request in flight for tens of milliseconds (the cached
            # read's p99 in docs/performance.md).
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()

    # /docs and /redoc with Swagger UI's and ReDoc's assets from the
    # fastapi-offline package, served by the service itself: no CDN, so the
    # pages work offline.
    app = FastAPIOffline(
        title=f"sandbox {service} service",
        version=__version__,
        lifespan=_lifespan,
        # The services export Prometheus metrics and JSON logs of their own,
        # not OpenTelemetry: FastAPI's own telemetry would only look for an
        # OpenTelemetry provider on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.readiness_checks = {}
    install_error_handlers(app)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    for middleware in reversed(inner_middleware):
        app.add_middleware(middleware)
    app.add_middleware(RequestMiddleware, observe=observe)
    if observe:
        for router in routers:
            initialize_request_series(router)
    return app
