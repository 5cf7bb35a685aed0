"""HTTP routes of the activity service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pymongo.asynchronous.collection import AsyncCollection

from activity_service import service
from activity_service.catalog_client import CatalogNames
from activity_service.schemas import EventAccepted, EventCreate, EventPage, ProductStats, Trending
from sandbox_common.app import from_state
from sandbox_common.auth import AdminPrincipal, CurrentPrincipal
from sandbox_common.batching import EventPublisherDep
from sandbox_common.errors import error_responses
from sandbox_common.pagination import Cursor

router = APIRouter(prefix="/api/v1/activity", tags=["activity"])


EventsDep = Annotated[AsyncCollection[dict[str, Any]], Depends(from_state("events"))]
Limit = Annotated[int, Query(ge=1, le=100)]
IDEMPOTENCY_KEY_LENGTH = range(1, 129)  # characters
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=IDEMPOTENCY_KEY_LENGTH.start,
        max_length=IDEMPOTENCY_KEY_LENGTH.stop - 1,
    ),
]


@router.post("/events", status_code=status.HTTP_202_ACCEPTED,
             responses=error_responses(400, 401, 503))  # fmt: skip
async def record_event(
    body: EventCreate,
    principal: CurrentPrincipal,
    publisher: EventPublisherDep,
    idempotency_key: IdempotencyKey = None,
) -> EventAccepted:
    return await service.accept_event(
        publisher=publisher, principal=principal, body=body, idempotency_key=idempotency_key
    )


@router.get("/me", responses=error_responses(400, 401))
async def my_feed(
    principal: CurrentPrincipal, events: EventsDep, limit: Limit = 20, before: Cursor = None
) -> EventPage:
    return await service.feed(events=events, user_id=principal.user_id, limit=limit, before=before)


@router.get("/users/{user_id}", responses=error_responses(400, 401, 403))
async def user_feed(
    user_id: uuid.UUID,
    _: AdminPrincipal,
    events: EventsDep,
    limit: Limit = 20,
    before: Cursor = None,
) -> EventPage:
    return await service.feed(events=events, user_id=str(user_id), limit=limit, before=before)


@router.get("/products/{product_id}/stats")
async def product_stats(request: Request, product_id: uuid.UUID, events: EventsDep) -> ProductStats:
    return await service.product_stats(events=events, index=request.app.state.stats_index,
                                       product_id=str(product_id))  # fmt: skip


@router.get("/trending")
async def trending(
    request: Request,
    events: EventsDep,
    window: Literal["1h", "24h", "7d"] = "24h",
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Trending:
    names: CatalogNames = request.app.state.catalog_names
    return await service.trending_products(
        events=events, redis=request.app.state.redis, names=names, window=window, limit=limit
    )
