"""HTTP routes of the catalog; logic lives in :mod:`catalog_service.service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status

from catalog_service import service
from catalog_service.dependencies import (
    CacheDep,
    CeleryDep,
    ReadConnectionDep,
    ReadEngineDep,
    SessionDep,
)
from catalog_service.repository import ProductFilter
from catalog_service.schemas import (
    IDS_PATTERN,
    SLUG_PATTERN,
    CategoryCreate,
    CategoryList,
    CategoryPublic,
    Price,
    ProductCreate,
    ProductPage,
    ProductPublic,
    ProductUpdate,
    Sort,
)
from sandbox_common.auth import AdminPrincipal, CurrentPrincipal, OptionalPrincipal
from sandbox_common.batching import EventPublisherDep, PublishFailed
from sandbox_common.errors import ServiceError, error_responses
from sandbox_common.pagination import Cursor
from sandbox_common.schemas import Text200

categories = APIRouter(prefix="/api/v1/categories", tags=["categories"])
products = APIRouter(prefix="/api/v1/products", tags=["products"])


class EventsUnavailable(ServiceError):
    status_code = 503
    detail = "Cannot record the like right now; try again"


@categories.get("")
async def list_categories(connection: ReadConnectionDep) -> CategoryList:
    return await service.list_categories(connection=connection)


@categories.post("", status_code=status.HTTP_201_CREATED,
                 responses=error_responses(400, 401, 403, 409))  # fmt: skip
async def create_category(
    body: CategoryCreate, _: AdminPrincipal, session: SessionDep
) -> CategoryPublic:
    return await service.create_category(session=session, body=body)


@products.get("", responses=error_responses(400))
async def list_products(
    connection: ReadConnectionDep,
    q: Annotated[Text200 | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=64, pattern=SLUG_PATTERN)] = None,
    min_price: Annotated[Price | None, Query()] = None,
    max_price: Annotated[Price | None, Query()] = None,
    sort: Sort = "-created_at",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Cursor = None,
    ids: Annotated[
        str | None, Query(pattern=IDS_PATTERN, description="Up to 100 product ids, comma-separated")
    ] = None,
) -> ProductPage:
    filters = ProductFilter(
        q=q.strip() if q else None,
        category=category,
        min_price=min_price,
        max_price=max_price,
        ids=service.parse_ids(ids),
    )
    return await service.list_products(
        connection=connection, filters=filters, sort=sort, limit=limit, cursor=cursor
    )


@products.get(
    "/{product_id}",
    response_class=Response,
    responses={200: {"model": ProductPublic, "description": "The product"},
               304: {"description": "Not modified"}, **error_responses(401, 404)},
)  # fmt: skip
async def get_product(
    product_id: uuid.UUID,
    principal: OptionalPrincipal,
    reads: ReadEngineDep,
    cache: CacheDep,
    event_publisher: EventPublisherDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    return await service.product_response(
        reads=reads,
        cache=cache,
        event_publisher=event_publisher,
        product_id=product_id,
        principal=principal,
        if_none_match=if_none_match,
    )


@products.post("", status_code=status.HTTP_201_CREATED,
               responses=error_responses(400, 401, 403, 409))  # fmt: skip
async def create_product(
    body: ProductCreate, admin: AdminPrincipal, session: SessionDep, celery: CeleryDep
) -> ProductPublic:
    return await service.create_product(session=session, celery=celery, body=body, actor=admin)


@products.patch("/{product_id}", responses=error_responses(400, 401, 403, 404, 409))
async def update_product(
    product_id: uuid.UUID,
    body: ProductUpdate,
    admin: AdminPrincipal,
    session: SessionDep,
    cache: CacheDep,
    celery: CeleryDep,
) -> ProductPublic:
    return await service.update_product(
        session=session, cache=cache, celery=celery, product_id=product_id, body=body, actor=admin
    )


@products.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT,
                 responses=error_responses(401, 403, 404))  # fmt: skip
async def delete_product(
    product_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, cache: CacheDep,
    celery: CeleryDep,
) -> Response:  # fmt: skip
    await service.delete_product(
        session=session, cache=cache, celery=celery, product_id=product_id, actor=admin
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@products.post("/{product_id}/like", status_code=status.HTTP_204_NO_CONTENT,
               responses=error_responses(401, 404, 503))  # fmt: skip
async def like_product(
    product_id: uuid.UUID,
    principal: CurrentPrincipal,
    reads: ReadEngineDep,
    cache: CacheDep,
    event_publisher: EventPublisherDep,
) -> Response:
    await service.read_product(reads=reads, cache=cache, product_id=product_id)
    try:
        await event_publisher.submit(
            service.like_event(product_id=product_id, user_id=principal.user_id), wait=True
        )
    except PublishFailed as exc:
        raise EventsUnavailable() from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
