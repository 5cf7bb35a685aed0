"""The only module of the catalog that speaks SQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import aliased

from catalog_service.models import SEARCH_CONFIG, Category, OutboxEvent, Product
from sandbox_common.contract import ActivityEvent

SORT_COLUMNS = {
    "price": ("price", False),
    "-price": ("price", True),
    "name": ("name", False),
    "-created_at": ("created_at", True),
}


@dataclass(frozen=True)
class ProductFilter:
    q: str | None = None
    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    ids: list[uuid.UUID] | None = None


async def list_categories(connection: AsyncConnection) -> list[dict[str, Any]]:
    """Every category, each a mapping of :class:`CategoryPublic`'s fields."""
    query = select(Category.id, Category.slug, Category.name).order_by(Category.slug)
    return [dict(row) for row in (await connection.execute(query)).mappings()]


async def get_category_by_slug(session: AsyncSession, *, slug: str) -> Category | None:
    result = await session.execute(select(Category).where(Category.slug == slug))
    return result.scalar_one_or_none()


async def read_product(
    connection: AsyncConnection, *, product_id: uuid.UUID
) -> dict[str, Any] | None:
    """One product, a mapping of :class:`ProductPublic`'s fields, as a page has them."""
    query = _PRODUCT_PAGE.where(Product.id == product_id)
    row = (await connection.execute(query)).mappings().one_or_none()
    return None if row is None else dict(row)


async def lock_product(session: AsyncSession, *, product_id: uuid.UUID) -> Product | None:
    result = await session.execute(
        select(Product).where(Product.id == product_id).with_for_update(of=Product)
    )
    return result.unique().scalar_one_or_none()


def _filtered(query: Select[Any], filters: ProductFilter) -> Select[Any]:
    if filters.q:
        tsquery = func.websearch_to_tsquery(SEARCH_CONFIG, filters.q)
        query = query.where(Product.search.op("@@")(tsquery))
    if filters.category is not None:
        query = query.where(
            Product.category_id.in_(select(Category.id).where(Category.slug == filters.category))
        )
    if filters.min_price is not None:
        query = query.where(Product.price >= filters.min_price)
    if filters.max_price is not None:
        query = query.where(Product.price <= filters.max_price)
    if filters.ids is not None:
        query = query.where(Product.id.in_(filters.ids))
    return query


def _page_columns(source: Any) -> Select[Any]:
    """A page's rows: the public fields, the category as its slug, nothing
    else (no search vector, no ORM objects to build for a read)."""
    return select(
        source.id, source.sku, source.name, source.description, source.price,
        source.currency, Category.slug.label("category"), source.stock, source.created_at,
        source.updated_at,
    ).outerjoin(Category, Category.id == source.category_id)  # fmt: skip


# Built once: a statement is immutable, and each filter adds to a copy.
_PRODUCT_PAGE = _page_columns(Product)


def product_page_query(
    filters: ProductFilter, *, sort: str, limit: int, after: tuple[Any, uuid.UUID] | None
) -> Select[Any]:
    attribute, descending = SORT_COLUMNS[sort]
    if filters.q:
        # Matches first, through the GIN index, then sorted. Without the
        # materialized CTE the planner walks a sort index backwards and filters
        # row by row, which for a rare word means reading the whole table.
        matches = _filtered(select(Product), filters).cte("matches").prefix_with("MATERIALIZED")
        source: Any = aliased(Product, matches)
        query = _page_columns(source)
    else:
        source = Product
        query = _filtered(_PRODUCT_PAGE, filters)
    column, id_column = getattr(source, attribute), source.id
    if after is not None:
        key: ColumnElement[bool]
        if descending:
            key = tuple_(column, id_column) < tuple_(*after)
        else:
            key = tuple_(column, id_column) > tuple_(*after)
        query = query.where(key)
    if descending:
        query = query.order_by(column.desc(), id_column.desc())
    else:
        query = query.order_by(column.asc(), id_column.asc())
    return query.limit(limit)


async def list_products(
    connection: AsyncConnection,
    filters: ProductFilter,
    *,
    sort: str,
    limit: int,
    after: tuple[Any, uuid.UUID] | None,
) -> list[dict[str, Any]]:
    """One page of products, each a mapping of :class:`ProductPublic`'s fields."""
    query = product_page_query(filters, sort=sort, limit=limit, after=after)
    return [dict(row) for row in (await connection.execute(query)).mappings()]


async def add_outbox(session: AsyncSession, *, event: ActivityEvent) -> None:
    await session.execute(insert(OutboxEvent).values(event=event.message()))
