"""Search is served by the GIN index, not a sequential scan, on a catalog of
100,000 products (in a database of its own, dropped afterwards)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from catalog_service.repository import ProductFilter, list_products, product_page_query
from tests.utils.databases import plain_url, temporary_database

PRODUCTS = 100_000
DATABASE = "catalog_explain_test"


@pytest.fixture(scope="module")
def big_catalog(env: dict[str, str]) -> Iterator[str]:
    with temporary_database(env, "catalog", DATABASE) as url:
        plain = plain_url(url)
        with psycopg.connect(plain) as conn:
            conn.execute(
                """
                INSERT INTO products (id, sku, name, description, price, currency, stock,
                                      created_at, updated_at)
                SELECT gen_random_uuid(), 'S-' || n,
                       (ARRAY['Acme','Nimbus','Orion','Vertex'])[1 + n %% 4] || ' '
                         || (ARRAY['kettle','lamp','chair','drill','tent','mouse'])[1 + n %% 6]
                         || ' ' || n,
                       'model ' || n || ' in ' || (ARRAY['red','blue','green'])[1 + n %% 3]
                         || CASE WHEN n %% 5000 = 0 THEN ' with a rare flamingo pattern' ELSE '' END,
                       (n %% 1000) + 0.99, 'USD', n %% 50,
                       now() - make_interval(secs => n), now()
                FROM generate_series(1, %s) AS n
                """,
                (PRODUCTS,),
            )
            conn.execute("ANALYZE products")
        yield plain


def explain(url: str, filters: ProductFilter, sort: str) -> str:
    query = product_page_query(filters, sort=sort, limit=21, after=None)
    # The statement the service sends, with its parameters, as psycopg sends them.
    compiled = query.compile(dialect=pg_psycopg.dialect())
    with psycopg.connect(url) as conn:
        row = conn.execute(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).fetchone()
    assert row is not None
    plan = row[0]
    return json.dumps(plan)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("sort", ["-created_at", "price", "name"])
@pytest.mark.parametrize("q", ["flamingo", "rare flamingo pattern"])
def test_search_uses_the_gin_index(big_catalog: str, q: str, sort: str) -> None:
    plan = explain(big_catalog, ProductFilter(q=q), sort)
    nodes = list(_nodes(json.loads(plan)[0]["Plan"]))
    on_products = [n for n in nodes if n.get("Relation Name") == "products"]
    assert any(n.get("Index Name") == "ix_products_search" for n in nodes), plan
    assert all(n["Node Type"] != "Seq Scan" for n in on_products), plan


@pytest.mark.parametrize("q", ["flamingo", "rare flamingo pattern", "FLAMINGOS"])
def test_the_search_finds_what_it_should(big_catalog: str, q: str) -> None:
    """The service's own query: every 5000th product, newest first, once each."""

    async def skus() -> list[str]:
        engine = create_async_engine(big_catalog.replace("postgresql://", "postgresql+psycopg://"))
        try:
            async with AsyncSession(engine) as session:
                found = await list_products(session, ProductFilter(q=q), sort="-created_at",
                                            limit=100, after=None)  # fmt: skip
        finally:
            await engine.dispose()
        return [product["sku"] for product in found]

    # created_at is now() minus n seconds: the smallest n is the newest.
    assert asyncio.run(skus()) == [f"S-{n}" for n in range(5000, PRODUCTS + 1, 5000)]
