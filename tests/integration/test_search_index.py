"""Search is served by the GIN index, not a sequential scan, on a catalog of
100,000 products (in a database of its own, dropped afterwards)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg

from catalog_service.repository import ProductFilter, product_page_query
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


def test_the_search_finds_what_it_should(big_catalog: str) -> None:
    with psycopg.connect(big_catalog) as conn:
        count = conn.execute(
            "SELECT count(*) FROM products WHERE search @@ websearch_to_tsquery('english', 'flamingo')"
        ).fetchone()
    assert count == (PRODUCTS // 5000,)
