"""What every simulated user shares: per-service URLs, request names, validation.

Request names are route templates, so ids never multiply the rows of the
statistics, the SLO groups or the Prometheus series. List reads are further
split by the kind of query (plain, category, price range, search, next page)
because they exercise different indexes and caches.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import gevent
from failures import describe
from locust import FastHttpUser
from locust.exception import StopUser
from routes import Route
from targets import Targets, resolve_targets

__all__ = ["Route"]  # the request names live in routes.py; users import them from here


PRODUCT_FIELDS = ("id", "sku", "name", "price", "currency", "category", "stock")


class Catalog:
    """What this process has seen of the catalog, shared by its users.

    Users learn product ids and search words from the pages they read, as a
    person would; nothing is fetched on the side.
    """

    MAX_PRODUCTS = 2000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: list[str] = []
        self._known: set[str] = set()
        self.categories: list[str] = []
        self.words: list[str] = []

    def learn(self, items: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            for item in items:
                product_id = str(item.get("id", ""))
                if (
                    product_id
                    and product_id not in self._known
                    and len(self._ids) < self.MAX_PRODUCTS
                ):
                    self._known.add(product_id)
                    self._ids.append(product_id)
                for word in str(item.get("name", "")).split():
                    if word.isalpha() and len(word) > 3 and len(self.words) < 200:
                        lowered = word.lower()
                        if lowered not in self.words:
                            self.words.append(lowered)

    def forget(self, product_id: str) -> None:
        with self._lock:
            if product_id in self._known:
                self._known.discard(product_id)
                self._ids.remove(product_id)

    def pick(self) -> str | None:
        # Popularity is skewed, as in any shop: a few products get most views,
        # which is what makes the product cache worth having.
        # (Products learnt first, from the first pages, are the popular ones:
        # about half of the views go to the first fifth of them.)
        if not self._ids:
            return None
        return self._ids[int(len(self._ids) * random.random() ** 2.3)]

    def pick_many(self, count: int) -> list[str]:
        return random.sample(self._ids, min(count, len(self._ids)))


CATALOG = Catalog()


def valid_product(body: Any) -> str | None:
    """Why a product body breaks the contract, or None."""
    if not isinstance(body, dict):
        return "product is not an object"
    missing = [name for name in PRODUCT_FIELDS if name not in body]
    if missing:
        return f"product lacks {', '.join(missing)}"
    price = body["price"]
    if not isinstance(price, str) or "." not in price or len(price.rsplit(".", 1)[1]) != 2:
        return f"price {price!r} is not a decimal string with two places"
    return None


class SandboxUser(FastHttpUser):
    """A user that reaches each service at its own base URL (or all through one gateway)."""

    abstract = True
    # No single host locally; --host (TARGET=cluster) names the gateway.
    host = ""
    network_timeout = 10.0
    connection_timeout = 5.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.targets: Targets = resolve_targets(environment.host)

    def stop_unless_prepared(self) -> None:
        """No traffic when the preparation failed; the run is already quitting."""
        if getattr(self.environment, "sandbox_preparation_failed", False):
            raise StopUser

    # --- URLs -------------------------------------------------------------

    def user_url(self, path: str) -> str:
        return self.targets.user + path

    def catalog_url(self, path: str) -> str:
        return self.targets.catalog + path

    def activity_url(self, path: str) -> str:
        return self.targets.activity + path

    # --- think time -------------------------------------------------------

    def pause(self, low: float = 0.5, high: float = 2.0) -> None:
        """Reading time inside a journey (the wait between journeys is ``wait_time``)."""
        gevent.sleep(random.uniform(low, high))

    # --- reads shared by every kind of user -------------------------------

    def list_products(
        self, name: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        query = urlencode(params)
        url = self.catalog_url(f"/api/v1/products?{query}" if query else "/api/v1/products")
        with self.client.get(url, name=name, headers=headers, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(describe(resp))
                return None
            body = resp.json()
            if (
                not isinstance(body, dict)
                or not isinstance(body.get("items"), list)
                or "next_cursor" not in body
            ):
                resp.failure("page lacks items or next_cursor")
                return None
            for item in body["items"]:
                problem = valid_product(item)
                if problem:
                    resp.failure(problem)
                    return None
            CATALOG.learn(body["items"])
            return body

    def read_product(
        self, product_id: str, headers: dict[str, str] | None = None, etag: str | None = None
    ) -> dict[str, Any] | None:
        headers = dict(headers or {})
        if etag:
            headers["If-None-Match"] = etag
        with self.client.get(
            self.catalog_url(f"/api/v1/products/{product_id}"),
            name=Route.PRODUCT,
            headers=headers,
            catch_response=True,
        ) as resp:
            if resp.status_code == 304 and etag:
                resp.success()
                return {}
            if resp.status_code == 404:
                # An admin deleted it since we saw it in a list: a normal race, not an error.
                resp.success()
                CATALOG.forget(product_id)
                return None
            if resp.status_code != 200:
                resp.failure(describe(resp))
                return None
            body = resp.json()
            problem = valid_product(body)
            if problem:
                resp.failure(problem)
                return None
            if not resp.headers.get("ETag"):
                resp.failure("product read without an ETag")
                return None
            body["_etag"] = resp.headers.get("ETag")
            return body

    def read_stats(self, product_id: str) -> None:
        with self.client.get(
            self.activity_url(f"/api/v1/activity/products/{product_id}/stats"),
            name=Route.PRODUCT_STATS,
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(describe(resp))
                return
            body = resp.json()
            if not all(key in body for key in ("product_id", "views", "likes", "unique_users")):
                resp.failure("stats lack product_id, views, likes or unique_users")

    def read_trending(self, window: str = "24h", limit: int = 10) -> list[str]:
        with self.client.get(
            self.activity_url(f"/api/v1/activity/trending?window={window}&limit={limit}"),
            name=Route.TRENDING,
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(describe(resp))
                return []
            body = resp.json()
            if not isinstance(body.get("items"), list) or "degraded" not in body:
                resp.failure("trending lacks items or degraded")
                return []
            return [str(item["product_id"]) for item in body["items"] if item.get("product_id")]

    def read_categories(self, headers: dict[str, str] | None = None) -> list[str]:
        with self.client.get(
            self.catalog_url("/api/v1/categories"),
            name=Route.CATEGORIES,
            headers=headers,
            catch_response=True,
        ) as resp:
            items = resp.json().get("items") if resp.status_code == 200 else None
            if not isinstance(items, list):
                resp.failure(describe(resp) if resp.status_code != 200 else "no items")
                return []
            CATALOG.categories = [str(item["slug"]) for item in items if "slug" in item]
            return CATALOG.categories

    def ensure_known_products(self, headers: dict[str, str] | None = None) -> str | None:
        """A product id to look at, reading the first page if nothing is known yet."""
        product_id = CATALOG.pick()
        if product_id is None:
            self.list_products(Route.PRODUCTS, {"limit": 50}, headers)
            product_id = CATALOG.pick()
        return product_id
