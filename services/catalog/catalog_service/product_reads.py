"""``GET /api/v1/products/{id}`` answered before FastAPI's routing.

A product read is the catalog's most frequent request, and when the product
is in Redis its own work is one MGET. FastAPI's routing, dependency solving
and exception layers cost several times that (docs/performance.md, the
cached read). This layer sits inside the request middleware, so a read it
answers keeps its request id, metrics and access line, and it does the
route's work through the same function, :func:`service.product_response`.

It takes only a GET whose id is a UUID in its canonical form (lower case);
any other request, a malformed id included, goes on to FastAPI, whose route
(``router.get_product``) stays the one the OpenAPI document describes and
answers what this layer leaves alone, its 422s among them.
"""

from __future__ import annotations

import uuid

from starlette.routing import get_route_path
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog_service import service
from catalog_service.router import products
from sandbox_common.auth import principal_from_header
from sandbox_common.before_routing import api_route, first_headers
from sandbox_common.errors import ServiceError, service_error_response

PREFIX = "/api/v1/products/"
ROUTE_PATH = PREFIX + "{product_id}"
_UUID_LENGTH = 36


class ProductReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # FastAPI's route for this path: its template labels the metrics.
        self._route = api_route(products, ROUTE_PATH, "GET")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        product_id = _product_id(scope)
        if product_id is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        authorization, if_none_match = first_headers(scope, b"authorization", b"if-none-match")
        scope["route"] = self._route
        try:
            principal = await principal_from_header(state.token_verifier, authorization)
            response = await service.product_response(
                reads=state.read_engine, cache=state.cache,
                event_publisher=state.event_publisher, product_id=product_id,
                principal=principal, if_none_match=if_none_match,
            )  # fmt: skip
        except ServiceError as exc:
            response = service_error_response(exc)
        await response(scope, receive, send)


def _product_id(scope: Scope) -> uuid.UUID | None:
    """The product id of a GET this layer answers; None for anything else."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path = get_route_path(scope)
    if not path.startswith(PREFIX) or len(path) != len(PREFIX) + _UUID_LENGTH:
        return None
    raw = path[len(PREFIX) :]
    try:
        parsed = uuid.UUID(raw)
    except ValueError:
        return None
    return parsed if str(parsed) == raw else None
