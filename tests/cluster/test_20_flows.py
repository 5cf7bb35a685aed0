"""The contract's flows through the cluster's Services."""

from __future__ import annotations

import httpx

from tests.utils.api import Account, eventually, feed_event, new_account
from tests.utils.catalog import create_product


def test_register_log_in_view_a_product_and_see_it_in_the_feed(
    user_api: httpx.Client, catalog_api: httpx.Client, activity_api: httpx.Client, admin: Account
) -> None:
    shopper = new_account(user_api)
    product = create_product(catalog_api, admin)

    viewed = catalog_api.get(f"/api/v1/products/{product['id']}", headers=shopper.headers)
    assert viewed.status_code == 200, viewed.text

    def feed_types() -> set[str] | None:
        items = activity_api.get("/api/v1/activity/me", headers=shopper.headers).json()["items"]
        types = {e["type"] for e in items}
        return types if {"product.viewed", "user.registered"} <= types else None

    eventually(feed_types, timeout=30, what="user.registered and product.viewed in the feed")


def test_an_admins_product_reaches_the_feed_through_the_outbox(
    catalog_api: httpx.Client, activity_api: httpx.Client, admin: Account
) -> None:
    created = create_product(catalog_api, admin, name="Outbox on the cluster")

    event = eventually(
        lambda: feed_event(activity_api, admin, admin.id, "product.created", created["id"]),
        timeout=30,
        what="product.created through the outbox",
    )
    assert event["metadata"]["sku"] == created["sku"]  # type: ignore[index]
