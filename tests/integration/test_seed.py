"""The demo catalog loads once, however often it is run."""

from __future__ import annotations

import psycopg

from catalog_service.seed import CATEGORIES, seed
from tests.utils.databases import plain_url, temporary_database


def test_seed_is_idempotent(env: dict[str, str]) -> None:
    with temporary_database(env, "catalog", "catalog_seed_test") as url:
        assert seed(url, products=1500) == (len(CATEGORIES), 1500)
        assert seed(url, products=1500) == (len(CATEGORIES), 0)
        assert seed(url, products=1600) == (len(CATEGORIES), 100)
        with psycopg.connect(plain_url(url)) as conn:
            products, names, prices = conn.execute(
                "SELECT count(*), count(DISTINCT name), count(DISTINCT price) FROM products"
            ).fetchone()  # type: ignore[misc]
            empty = conn.execute(
                "SELECT count(*) FROM categories c WHERE NOT EXISTS "
                "(SELECT 1 FROM products p WHERE p.category_id = c.id)"
            ).fetchone()
    assert products == 1600
    assert names == 1600
    assert prices > 500  # varied, not one price for all
    assert empty == (0,)
    assert len(CATEGORIES) >= 20
