"""What the layers answering a hot route before FastAPI's routing share
(``catalog_service.product_reads``, ``activity_service.event_intake``).

Such a layer sits inside the request middleware, so what it answers keeps
its request id, metrics and access line; it labels them with FastAPI's own
route for the path (:func:`api_route`), which stays the one the OpenAPI
document describes and answers whatever the layer leaves alone.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.types import Scope


def api_route(router: APIRouter, path: str, method: str) -> APIRoute:
    """The router's route for ``method`` on ``path`` (its full template)."""
    return next(
        route for route in router.routes
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ())
    )  # fmt: skip


def first_headers(scope: Scope, *names: bytes) -> list[str | None]:
    """Each named header's first value (as Starlette's ``Headers.get`` reads
    it), or None; ``names`` in lower case."""
    values: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in names and name not in values:
            values[name] = value.decode("latin-1")
    return [values.get(name) for name in names]
