"""Shoppers: log in once (a few register first), then browse, like and read their activity."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from typing import Any

from locust import between, task
from locust.exception import StopUser
from targets import ACCOUNT_DOMAIN, Credentials, pool_account

from users.auth import REFUSED_ACCOUNTS, SHED_ATTEMPTS, AuthenticatedUser, shed_wait
from users.base import CATALOG, Route, describe

_next_account = itertools.count(random.randrange(10_000))


class Shopper(AuthenticatedUser):
    weight = 5
    wait_time = between(2, 6)

    def on_start(self) -> None:
        self.stop_unless_prepared()
        options = self.environment.parsed_options
        share = float(getattr(options, "new_account_share", 0.05) or 0)
        account = self.register() if random.random() < share else self.pool_account()
        if account is None or not self.login(account):
            raise StopUser
        self.etags: dict[str, str] = {}

    def pool_account(self) -> Credentials | None:
        options = self.environment.parsed_options
        size = max(1, int(getattr(options, "account_pool", 50)))
        base = getattr(options, "account_password", None)
        for _ in range(size):
            account = pool_account(next(_next_account) % size, base)
            if account.email not in REFUSED_ACCOUNTS:
                return account
        return None

    def register(self) -> Credentials | None:
        """A newcomer: one registration (argon2id, so deliberately a small share)."""
        tag = uuid.uuid4().hex[:12]
        account = Credentials(f"lt-new-{tag}@{ACCOUNT_DOMAIN}", f"loadtest-new-{tag}")
        for attempt in range(1, SHED_ATTEMPTS + 1):
            with self.client.post(
                self.user_url("/api/v1/auth/register"),
                json={
                    "email": account.email,
                    "password": account.password,
                    "display_name": f"New {tag}",
                },
                name=Route.REGISTER,
                catch_response=True,
            ) as resp:
                if resp.status_code == 201:
                    body = resp.json()
                    if "id" not in body or "password" in body or "password_hash" in body:
                        resp.failure("user object lacks id or exposes a password")
                        return None
                    return account
                resp.failure(describe(resp))
                wait = shed_wait(resp)  # shed before anything was stored: safe to send again
            if wait is None or attempt == SHED_ATTEMPTS:
                return None
            time.sleep(wait)
        return None

    @task(10)
    def view_product(self) -> None:
        product_id = self.ensure_known_products(self.auth())
        if product_id is None:
            return
        # A product seen before is asked for with its ETag, as a browser cache would.
        product = self.read_product(product_id, self.auth(), self.etags.get(product_id))
        if product and product.get("_etag"):
            if len(self.etags) > 200:
                self.etags.clear()
            self.etags[product_id] = product["_etag"]

    @task(4)
    def browse(self) -> None:
        params = {"limit": 20, "sort": random.choice(("price", "-created_at", "name"))}
        if CATALOG.categories and random.random() < 0.5:
            params["category"] = random.choice(CATALOG.categories)
            self.list_products(Route.PRODUCTS_BY_CATEGORY, params, self.auth())
        else:
            self.list_products(Route.PRODUCTS, params, self.auth())

    @task(3)
    def like(self) -> None:
        product_id = self.ensure_known_products(self.auth())
        if product_id is None:
            return
        with self.client.post(
            self.catalog_url(f"/api/v1/products/{product_id}/like"),
            headers=self.auth(),
            name=Route.PRODUCT_LIKE,
            catch_response=True,
        ) as resp:
            if resp.status_code == 404:
                resp.success()  # deleted by an admin meanwhile
                CATALOG.forget(product_id)
            elif resp.status_code != 204:
                resp.failure(describe(resp))

    @task(2)
    def post_event(self) -> None:
        product_id = self.ensure_known_products(self.auth())
        if product_id is None:
            return
        headers = {**self.auth(), "Idempotency-Key": uuid.uuid4().hex}
        metadata: dict[str, Any] = {"source": "loadtest", "position": random.randint(1, 20)}
        run_tag = getattr(self.environment.parsed_options, "run_tag", "")
        if run_tag:
            metadata["run"] = run_tag
        body = {"type": "product.viewed", "object_id": product_id, "metadata": metadata}
        with self.client.post(
            self.activity_url("/api/v1/activity/events"),
            json=body,
            headers=headers,
            name=Route.EVENTS,
            catch_response=True,
        ) as resp:
            if resp.status_code != 202:
                resp.failure(describe(resp))
            elif "event_id" not in resp.json():
                resp.failure("202 without event_id")

    @task(2)
    def my_activity(self) -> None:
        with self.client.get(
            self.activity_url("/api/v1/activity/me?limit=20"),
            headers=self.auth(),
            name=Route.MY_ACTIVITY,
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(describe(resp))
                return
            body = resp.json()
            if not isinstance(body.get("items"), list) or "next_before" not in body:
                resp.failure("activity page lacks items or next_before")

    @task(1)
    def stats_and_trending(self) -> None:
        top = self.read_trending(random.choice(("1h", "24h")))
        product_id = random.choice(top) if top else CATALOG.pick()
        if product_id:
            self.pause()
            self.read_stats(product_id)
