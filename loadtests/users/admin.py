"""A few admins: create products, correct prices and stock, retire their own products."""

from __future__ import annotations

import random
import uuid
from decimal import Decimal

from locust import between, task
from locust.exception import StopUser
from targets import admin_credentials

from users.auth import AuthenticatedUser
from users.base import CATALOG, Route, describe, valid_product


class Admin(AuthenticatedUser):
    weight = 1
    wait_time = between(5, 15)

    def on_start(self) -> None:
        self.stop_unless_prepared()
        account = admin_credentials()
        if account is None:
            raise StopUser  # the preparation already said why
        if not self.login(account):
            raise StopUser
        self.created: list[str] = []
        # New products go into categories that exist (an unknown one is a 422).
        self.read_categories(self.auth())

    def _price(self) -> str:
        return f"{Decimal(random.randrange(199, 29999)) / 100:.2f}"

    @task(3)
    def create_product(self) -> None:
        tag = uuid.uuid4().hex[:10].upper()
        body: dict[str, object] = {
            "sku": f"LT-{tag}",
            "name": f"Load Test Item {tag}",
            "description": "Created during a load test.",
            "price": self._price(),
            "currency": "USD",
            "stock": random.randrange(1, 200),
        }
        if CATALOG.categories:
            body["category"] = random.choice(CATALOG.categories)
        with self.client.post(
            self.catalog_url("/api/v1/products"),
            json=body,
            headers=self.auth(),
            name=Route.PRODUCTS,
            catch_response=True,
        ) as resp:
            if resp.status_code != 201:
                resp.failure(describe(resp))
                return
            product = resp.json()
            problem = valid_product(product)
            if problem:
                resp.failure(problem)
                return
            self.created.append(str(product["id"]))

    @task(4)
    def update_product(self) -> None:
        # Mostly restocking anything in the shop (which invalidates hot cache
        # entries), sometimes repricing one of our own.
        if self.created and random.random() < 0.4:
            product_id, change = random.choice(self.created), {"price": self._price()}
        else:
            product_id = self.ensure_known_products(self.auth())
            change = {"stock": random.randrange(0, 500)}
        if product_id is None:
            return
        with self.client.patch(
            self.catalog_url(f"/api/v1/products/{product_id}"),
            json=change,
            headers=self.auth(),
            name=Route.PRODUCT,
            catch_response=True,
        ) as resp:
            if resp.status_code == 404:
                resp.success()
                CATALOG.forget(product_id)
            elif resp.status_code != 200:
                resp.failure(describe(resp))
            elif (problem := valid_product(resp.json())) is not None:
                resp.failure(problem)

    @task(2)
    def newest_products(self) -> None:
        self.list_products(Route.PRODUCTS, {"limit": 50, "sort": "-created_at"}, self.auth())

    @task(1)
    def retire_product(self) -> None:
        # Only what this admin created, so the catalog stays the same size over a soak.
        if len(self.created) < 3:
            return
        product_id = self.created.pop(0)
        with self.client.delete(
            self.catalog_url(f"/api/v1/products/{product_id}"),
            headers=self.auth(),
            name=Route.PRODUCT,
            catch_response=True,
        ) as resp:
            if resp.status_code not in (204, 404):
                resp.failure(describe(resp))
        CATALOG.forget(product_id)

    def on_stop(self) -> None:
        # Leave the catalog as we found it.
        for product_id in getattr(self, "created", []):
            self.client.delete(
                self.catalog_url(f"/api/v1/products/{product_id}"),
                headers=self.auth(),
                name=Route.PRODUCT,
            )
