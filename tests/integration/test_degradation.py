"""Dependencies that fail are handled on purpose: the catalog keeps reading
without Redis, trending keeps answering without the catalog, and what a
registration or an account deletion causes survives a broker outage."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from sandbox_common.topology import SERVICE_PORTS, local_url
from tests.utils.api import Account, eventually, feed_event, new_account, register, unique_email
from tests.utils.catalog import create_product
from tests.utils.databases import plain_url
from tests.utils.stack import stack_module


def _counter(metrics_text: str, name: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name):
            match = re.search(r" ([0-9.e+-]+)$", line)
            if match:
                total += float(match.group(1))
    return total


@pytest.fixture
def stack():  # type: ignore[no-untyped-def]
    return stack_module()


@contextmanager
def redis_down(stack) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Redis (the caches and the Celery broker) stopped, then back with the worker on it."""
    stack.stop("redis")
    try:
        yield
    finally:
        stack.start_redis(stack.make_plan())
        worker = f"http://127.0.0.1:{stack.WORKER_METRICS_PORT}/readyz"
        eventually(lambda: stack.http_ok(worker), timeout=90,
                   what="worker reconnected to Redis")  # fmt: skip


@pytest.fixture
def redis_stopped(stack, urls: dict[str, str]) -> Iterator[None]:  # type: ignore[no-untyped-def]
    with redis_down(stack):
        yield


def test_registration_and_deletion_during_a_broker_outage_lose_nothing(
    user_api: httpx.Client, activity_api: httpx.Client, admin: Account, env: dict[str, str],
    stack,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    leaving = new_account(user_api)
    email = unique_email("outage")
    with redis_down(stack):
        created = register(user_api, email=email)
        assert created.status_code == 201, created.text
        deleted = user_api.delete("/api/v1/users/me", headers=leaving.headers)
        assert deleted.status_code == 202, deleted.text
    user_id = created.json()["id"]

    def scalar(sql: str, *args: object) -> object:
        with psycopg.connect(plain_url(env["SANDBOX_USER_DATABASE_URL"])) as conn:
            row = conn.execute(sql, args).fetchone()
        return row[0] if row else None

    # The outbox held them; the relay hands them over once the broker is back.
    eventually(
        lambda: scalar("SELECT kind FROM notifications WHERE user_id = %s", user_id) == "welcome",
        timeout=90, interval=1, what="the welcome notification",
    )  # fmt: skip
    eventually(
        lambda: feed_event(activity_api, admin, user_id, "user.registered", user_id),
        timeout=90, interval=1, what="the user.registered event",
    )  # fmt: skip
    eventually(
        lambda: scalar("SELECT count(*) FROM users WHERE id = %s", leaving.id) == 0,
        timeout=90, interval=1, what="the deleted account erased",
    )  # fmt: skip
    again = register(user_api, email=leaving.email)
    assert again.status_code == 201, again.text


def test_product_reads_survive_redis_going_down(
    catalog_api: httpx.Client,
    admin: Account,
    stack,
    request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
) -> None:
    product = create_product(catalog_api, admin)
    path = f"/api/v1/products/{product['id']}"
    assert catalog_api.get(path).status_code == 200  # cached now
    before = _counter(catalog_api.get("/metrics").text, "sandbox_cache_fallbacks_total")

    request.getfixturevalue("redis_stopped")
    for _ in range(5):
        response = catalog_api.get(path)
        assert response.status_code == 200
        assert response.json()["id"] == product["id"]
    listing = catalog_api.get("/api/v1/products", params={"limit": 5})
    assert listing.status_code == 200
    assert catalog_api.get("/readyz").status_code == 200  # Redis is optional for the catalog
    after = _counter(catalog_api.get("/metrics").text, "sandbox_cache_fallbacks_total")
    assert after >= before + 5


def test_trending_degrades_but_answers_without_the_catalog(
    catalog_api: httpx.Client, activity_api: httpx.Client, user_api: httpx.Client,
    admin: Account, stack,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    product = create_product(catalog_api, admin, name=f"Trending {uuid.uuid4().hex[:6]}")
    fan = new_account(user_api)
    views = 150  # enough to be in anyone's top 50 for the last hour (a view scores 1)
    for _ in range(views):
        activity_api.post("/api/v1/activity/events", headers=fan.headers,
                          json={"type": "product.viewed", "object_id": product["id"]})  # fmt: skip
    stats = f"/api/v1/activity/products/{product['id']}/stats"
    eventually(lambda: activity_api.get(stats).json()["views"] == views, what="views stored")
    import redis

    cache = redis.Redis.from_url(stack.make_plan().env["SANDBOX_REDIS_URL"])
    params = {"window": "1h", "limit": 50}

    def ours(body: dict[str, object]) -> dict[str, object] | None:
        return next((i for i in body["items"] if i["product_id"] == product["id"]), None)  # type: ignore[attr-defined, index]

    cache.delete("activity:trending:1h")
    healthy = activity_api.get("/api/v1/activity/trending", params=params).json()
    assert healthy["degraded"] is False
    assert ours(healthy) == {"product_id": product["id"], "name": product["name"], "score": views}

    plan = stack.make_plan()
    stack.stop("catalog")
    try:
        cache.delete("activity:trending:1h")
        response = eventually(
            lambda: (r := activity_api.get("/api/v1/activity/trending", params=params)).json()[
                "degraded"] and r, timeout=15, what="a degraded answer")  # fmt: skip
        assert response.status_code == 200
        body = response.json()
        assert ours(body) == {"product_id": product["id"], "name": None, "score": views}
    finally:
        stack.spawn("catalog", [str(stack.BIN / "sandbox-serve"), "catalog"],
                    stack.process_env(plan, SANDBOX_PORT=str(SERVICE_PORTS["catalog"])))  # fmt: skip
        eventually(lambda: stack.http_ok(f"{local_url('catalog')}/readyz"), timeout=60,
                   what="catalog back")  # fmt: skip
    recovered = eventually(
        lambda: not (b := activity_api.get("/api/v1/activity/trending", params=params).json())[
            "degraded"] and b, timeout=20, what="trending recovered")  # fmt: skip
    assert ours(recovered)["name"] == product["name"]  # type: ignore[index]
