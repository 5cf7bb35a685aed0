"""Visitors without an account: most of the traffic, all reads."""

from __future__ import annotations

import random

from locust import between, task
from testdata import SEARCH_TERMS

from users.base import CATALOG, Route, SandboxUser

SORTS = ("price", "-price", "name", "-created_at")
PRICE_BANDS = ((0, 20), (20, 50), (50, 100), (100, 250), (250, 1000))


class AnonymousBrowser(SandboxUser):
    weight = 14
    wait_time = between(2, 8)

    def on_start(self) -> None:
        self.stop_unless_prepared()
        # Everyone arrives on the front page.
        self.list_products(Route.PRODUCTS, {"limit": 20, "sort": "-created_at"})

    @task(5)
    def view_product(self) -> None:
        product_id = self.ensure_known_products()
        if product_id is None:
            return
        if self.read_product(product_id) is not None and random.random() < 0.5:
            self.pause()
            self.read_stats(product_id)

    @task(4)
    def front_page(self) -> None:
        self.list_products(Route.PRODUCTS, {"limit": 20, "sort": random.choice(SORTS)})
        for product_id in CATALOG.pick_many(random.randint(0, 2)):
            self.pause()
            self.read_product(product_id)

    @task(3)
    def browse_category(self) -> None:
        self.read_categories()
        if not CATALOG.categories:
            return
        self.pause()
        category = random.choice(CATALOG.categories)
        page = self.list_products(
            Route.PRODUCTS_BY_CATEGORY,
            {"category": category, "sort": random.choice(SORTS), "limit": 20},
        )
        if page and page["items"]:
            self.pause()
            self.read_product(str(random.choice(page["items"])["id"]))

    @task(2)
    def filter_by_price(self) -> None:
        low, high = random.choice(PRICE_BANDS)
        params = {"min_price": f"{low}.00", "max_price": f"{high}.00", "sort": "price", "limit": 20}
        if CATALOG.categories and random.random() < 0.5:
            params["category"] = random.choice(CATALOG.categories)
        self.list_products(Route.PRODUCTS_BY_PRICE, params)

    @task(3)
    def search(self) -> None:
        words = CATALOG.words or SEARCH_TERMS
        page = self.list_products(Route.PRODUCTS_SEARCH, {"q": random.choice(words), "limit": 20})
        if page and page["items"] and random.random() < 0.6:
            self.pause()
            self.read_product(str(random.choice(page["items"])["id"]))

    @task(2)
    def page_through(self) -> None:
        page = self.list_products(Route.PRODUCTS, {"limit": 20, "sort": "name"})
        for _ in range(random.randint(1, 4)):
            if not page or not page.get("next_cursor"):
                return
            self.pause(1, 3)
            page = self.list_products(
                Route.PRODUCTS_NEXT_PAGE,
                {"limit": 20, "sort": "name", "cursor": page["next_cursor"]},
            )

    @task(2)
    def trending(self) -> None:
        top = self.read_trending(random.choice(("1h", "24h", "7d")))
        if top:
            self.pause()
            product_id = random.choice(top[:5])
            if self.read_product(product_id) is not None:
                self.read_stats(product_id)
