"""The catalog's logic: reads through the cache, writes with their outbox
event in the same transaction."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from celery import Celery
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from starlette.responses import Response

from catalog_service import repository
from catalog_service.cache import ProductCache
from catalog_service.models import Category, Product
from catalog_service.repository import ProductFilter
from catalog_service.schemas import (
    CategoryCreate,
    CategoryList,
    CategoryPublic,
    ProductCreate,
    ProductPage,
    ProductPublic,
    ProductUpdate,
)
from sandbox_common import metrics, outbox
from sandbox_common.auth import Principal
from sandbox_common.batching import EventPublisher
from sandbox_common.contract import ActivityEvent, Tasks
from sandbox_common.errors import Conflict, NotFound
from sandbox_common.logging import get_logger
from sandbox_common.pagination import BadCursor, decode_cursor, encode_cursor

_log = get_logger(__name__)
LIKE_NAMESPACE = uuid.UUID("6f1c1d2e-3b9a-4c55-9a51-0c7f5a3e2b10")


def _now() -> datetime:
    return datetime.now(UTC)


def to_public(product: Product) -> ProductPublic:
    return ProductPublic(
        id=product.id,
        sku=product.sku,
        name=product.name,
        description=product.description,
        price=product.price,
        currency=product.currency,
        category=product.category.slug if product.category else None,
        stock=product.stock,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


def serialize(product: Product) -> bytes:
    return to_public(product).model_dump_json().encode()


def etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or tag in candidates


# -- categories --------------------------------------------------------------------------------


async def list_categories(*, connection: AsyncConnection) -> CategoryList:
    return CategoryList.model_validate({"items": await repository.list_categories(connection)})


async def create_category(*, session: AsyncSession, body: CategoryCreate) -> CategoryPublic:
    category = Category(slug=body.slug, name=body.name)
    session.add(category)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("Category slug already exists") from exc
    return CategoryPublic.model_validate(category, from_attributes=True)


# -- reads -------------------------------------------------------------------------------------


async def read_product(*, reads: AsyncEngine, cache: ProductCache, product_id: uuid.UUID) -> bytes:
    """The product's JSON, from Redis when cached; PostgreSQL only on a miss."""
    body, generation = await cache.get(product_id)
    if body is not None:
        return body
    async with reads.connect() as connection:
        found = await repository.read_product(connection, product_id=product_id)
    if found is None:
        raise NotFound("Product not found")
    body = ProductPublic.model_validate(found).model_dump_json().encode()
    if generation is not None:
        await cache.fill(product_id, generation, body)
    return body


async def product_response(
    *,
    reads: AsyncEngine,
    cache: ProductCache,
    event_publisher: EventPublisher,
    product_id: uuid.UUID,
    principal: Principal | None,
    if_none_match: str | None,
) -> Response:
    """``GET /api/v1/products/{id}``: the product with its ETag, or 304 when
    the client has it; a signed-in reader's view is recorded on the way."""
    body = await read_product(reads=reads, cache=cache, product_id=product_id)
    if principal is not None:
        await event_publisher.submit(view_event(product_id=product_id, user_id=principal.user_id),
                                     wait=False)  # fmt: skip
    tag = etag(body)
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if etag_matches(if_none_match, tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def parse_ids(raw: str | None) -> list[uuid.UUID] | None:
    """The ``ids`` parameter, which its pattern (IDS_PATTERN) has checked."""
    return None if raw is None else [uuid.UUID(p) for p in raw.split(",")]


def _cursor_key(sort: str, product: dict[str, Any]) -> Any:
    if sort in ("price", "-price"):
        return str(product["price"])
    if sort == "name":
        return product["name"]
    return product["created_at"].isoformat()


def _parse_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    cursor_sort, key, product_id = decode_cursor(cursor, length=3)
    if cursor_sort != sort or not isinstance(key, str) or not isinstance(product_id, str):
        raise BadCursor()
    try:
        parsed: Any
        if sort in ("price", "-price"):
            parsed = Decimal(key)
            if not parsed.is_finite():
                raise BadCursor()
        elif sort == "name":
            parsed = key
        else:
            parsed = datetime.fromisoformat(key)
        return parsed, uuid.UUID(product_id)
    except (InvalidOperation, ValueError) as exc:
        raise BadCursor() from exc


async def list_products(
    *, connection: AsyncConnection, filters: ProductFilter, sort: str, limit: int,
    cursor: str | None,
) -> ProductPage:  # fmt: skip
    after = _parse_cursor(cursor, sort) if cursor is not None else None
    products = await repository.list_products(
        connection, filters, sort=sort, limit=limit + 1, after=after
    )
    next_cursor = None
    if len(products) > limit:
        products = products[:limit]
        last = products[-1]
        next_cursor = encode_cursor([sort, _cursor_key(sort, last), str(last["id"])])
    # One validation of the whole page, not a model built per product.
    return ProductPage.model_validate({"items": products, "next_cursor": next_cursor})


# -- writes ------------------------------------------------------------------------------------


async def _category(session: AsyncSession, slug: str | None) -> Category | None:
    """The product's category, set as an object: the answer after the commit
    needs no second read for its slug."""
    if slug is None:
        return None
    category = await repository.get_category_by_slug(session, slug=slug)
    if category is None:
        raise Conflict("Unknown category: create it first (POST /api/v1/categories)")
    return category


def _write_metadata(product: Product) -> dict[str, Any]:
    return {"sku": product.sku, "name": product.name[:100], "price": str(product.price)}


async def _commit_write(session: AsyncSession) -> None:
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("SKU already exists") from exc


async def _flush_write(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("SKU already exists") from exc


async def create_product(
    *, session: AsyncSession, celery: Celery, body: ProductCreate, actor: Principal
) -> ProductPublic:
    product = Product(
        id=uuid.uuid4(),
        sku=body.sku,
        name=body.name,
        description=body.description,
        price=body.price,
        currency=body.currency,
        category=await _category(session, body.category),
        stock=body.stock,
    )
    session.add(product)
    await _flush_write(session)
    await repository.add_outbox(session, event=ActivityEvent.new(
        type="product.created", user_id=actor.user_id, object_id=product.id,
        metadata=_write_metadata(product)))  # fmt: skip
    await _commit_write(session)
    metrics.PRODUCTS_WRITTEN.labels("create").inc()
    outbox.kick(celery, Tasks.RELAY_CATALOG_OUTBOX)
    return to_public(product)


async def update_product(
    *,
    session: AsyncSession,
    cache: ProductCache,
    celery: Celery,
    product_id: uuid.UUID,
    body: ProductUpdate,
    actor: Principal,
) -> ProductPublic:
    product = await repository.lock_product(session, product_id=product_id)
    if product is None:
        raise NotFound("Product not found")
    changes = body.model_dump(exclude_unset=True)
    if "category" in changes:
        product.category = await _category(session, changes.pop("category"))
    for field, value in changes.items():
        setattr(product, field, value)
    product.updated_at = _now()
    await _flush_write(session)
    await repository.add_outbox(session, event=ActivityEvent.new(
        type="product.updated", user_id=actor.user_id, object_id=product.id,
        metadata={**_write_metadata(product),
                  "fields": ",".join(sorted(body.model_fields_set))}))  # fmt: skip
    await _commit_write(session)
    await cache.invalidate(product_id)
    metrics.PRODUCTS_WRITTEN.labels("update").inc()
    outbox.kick(celery, Tasks.RELAY_CATALOG_OUTBOX)
    return to_public(product)


async def delete_product(
    *,
    session: AsyncSession,
    cache: ProductCache,
    celery: Celery,
    product_id: uuid.UUID,
    actor: Principal,
) -> None:
    product = await repository.lock_product(session, product_id=product_id)
    if product is None:
        raise NotFound("Product not found")
    metadata = _write_metadata(product)
    await session.delete(product)
    await repository.add_outbox(session, event=ActivityEvent.new(
        type="product.deleted", user_id=actor.user_id, object_id=product_id,
        metadata=metadata))  # fmt: skip
    await session.commit()
    await cache.invalidate(product_id)
    metrics.PRODUCTS_WRITTEN.labels("delete").inc()
    outbox.kick(celery, Tasks.RELAY_CATALOG_OUTBOX)


def like_event(*, product_id: uuid.UUID, user_id: str) -> ActivityEvent:
    # One like per user and product, however often it is sent.
    event_id = uuid.uuid5(LIKE_NAMESPACE, f"{user_id}:{product_id}")
    return ActivityEvent.new(type="product.liked", user_id=user_id, object_id=product_id,
                             event_id=event_id)  # fmt: skip


def view_event(*, product_id: uuid.UUID, user_id: str) -> ActivityEvent:
    return ActivityEvent.new(type="product.viewed", user_id=user_id, object_id=product_id)
