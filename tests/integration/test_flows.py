"""The three services as one system: events travel from user and catalog to
activity through Celery on Redis, activity reads catalog over REST."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg

from sandbox_common.contract import Tasks
from tests.utils.api import Account, eventually, feed_event, new_account
from tests.utils.catalog import create_product
from tests.utils.databases import plain_url
from tests.utils.stack import ROOT


def _log_lines(name: str, needle: str) -> list[dict[str, object]]:
    path = ROOT / ".local" / "logs" / f"{name}.log"
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if needle in line:
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


def test_registration_runs_the_welcome_task_with_the_request_id(
    user_api: httpx.Client, activity_api: httpx.Client, env: dict[str, str]
) -> None:
    request_id = f"welcome-{uuid.uuid4().hex}"
    account = new_account(user_api, **{"X-Request-ID": request_id})

    # The worker really ran the task: the notification row exists...
    def notification() -> tuple[str, str] | None:
        with psycopg.connect(plain_url(env["SANDBOX_USER_DATABASE_URL"])) as conn:
            row = conn.execute(
                "SELECT kind, request_id FROM notifications WHERE user_id = %s", (account.id,)
            ).fetchone()
        return (row[0], row[1]) if row else None

    assert eventually(notification, what="welcome notification") == ("welcome", request_id)
    # ...its log line carries the HTTP request's id...
    worker_lines = eventually(
        lambda: [line for line in _log_lines("worker", request_id)
                 if line.get("message") == "welcome notification sent"],
        what="worker log line",
    )  # fmt: skip
    assert worker_lines[0]["request_id"] == request_id
    assert worker_lines[0]["celery.task"] == Tasks.SEND_WELCOME
    # ...and so does the user.registered event in the feed.
    items = eventually(
        lambda: activity_api.get("/api/v1/activity/me", headers=account.headers).json()["items"],
        what="user.registered event",
    )
    assert items[0]["type"] == "user.registered"
    assert items[0]["object_id"] == account.id
    # ...as does the access line (written within a tenth of a second).
    eventually(
        lambda: [line for line in _log_lines("user", request_id)
                 if line.get("http.route") == "/api/v1/auth/register"],
        what="access line of the registration",
    )  # fmt: skip


def test_view_then_feed_then_admin_write_through_the_outbox(
    user_api: httpx.Client, catalog_api: httpx.Client, activity_api: httpx.Client,
    admin: Account, env: dict[str, str],
) -> None:  # fmt: skip
    shopper = new_account(user_api)
    product = create_product(catalog_api, admin)

    viewed = catalog_api.get(f"/api/v1/products/{product['id']}", headers=shopper.headers)
    assert viewed.status_code == 200

    def viewed_in_feed() -> bool:
        items = activity_api.get("/api/v1/activity/me", headers=shopper.headers).json()["items"]
        return any(e["type"] == "product.viewed" and e["object_id"] == product["id"]
                   for e in items)  # fmt: skip

    eventually(viewed_in_feed, timeout=10, what="product.viewed in the feed")

    created = create_product(catalog_api, admin, name="Outbox delivered")

    event = eventually(
        lambda: feed_event(activity_api, admin, admin.id, "product.created", created["id"]),
        timeout=15,
        what="product.created through the outbox",
    )
    assert event["metadata"]["sku"] == created["sku"]  # type: ignore[index]
    with psycopg.connect(plain_url(env["SANDBOX_CATALOG_DATABASE_URL"])) as conn:
        unsent = conn.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND event->>'object_id' = %s",
            (created["id"],),
        ).fetchone()
    assert unsent == (0,)


def test_update_and_delete_events_arrive(
    catalog_api: httpx.Client, activity_api: httpx.Client, admin: Account
) -> None:
    product = create_product(catalog_api, admin)
    path = f"/api/v1/products/{product['id']}"
    catalog_api.patch(path, headers=admin.headers, json={"stock": 7})
    catalog_api.delete(path, headers=admin.headers)

    def types() -> set[str] | None:
        items = activity_api.get(f"/api/v1/activity/users/{admin.id}", headers=admin.headers,
                                 params={"limit": 100}).json()["items"]  # fmt: skip
        found = {e["type"] for e in items if e["object_id"] == product["id"]}
        return found if found >= {"product.created", "product.updated", "product.deleted"} else None

    eventually(types, timeout=15, what="created, updated and deleted events")


def test_deleting_an_account_erases_it_and_its_activity(
    user_api: httpx.Client, activity_api: httpx.Client, admin: Account, env: dict[str, str]
) -> None:
    account: Account = new_account(user_api)
    activity_api.post("/api/v1/activity/events", headers=account.headers,
                      json={"type": "product.viewed", "object_id": "erase-me"})  # fmt: skip
    feed_path = f"/api/v1/activity/users/{account.id}"
    eventually(lambda: len(activity_api.get(feed_path, headers=admin.headers).json()["items"]) >= 2,
               what="events before erasure")  # fmt: skip

    assert user_api.delete("/api/v1/users/me", headers=account.headers).status_code == 202

    def erased() -> bool:
        with psycopg.connect(plain_url(env["SANDBOX_USER_DATABASE_URL"])) as conn:
            row = conn.execute("SELECT 1 FROM users WHERE id = %s", (account.id,)).fetchone()
        events = activity_api.get(feed_path, headers=admin.headers).json()["items"]
        return row is None and events == []

    eventually(erased, timeout=20, what="account and activity erased")


def test_request_id_travels_from_catalog_to_the_worker(
    user_api: httpx.Client, catalog_api: httpx.Client, admin: Account
) -> None:
    request_id = f"trace-{uuid.uuid4().hex}"
    product = create_product(catalog_api, admin)
    shopper = new_account(user_api)
    response = catalog_api.post(f"/api/v1/products/{product['id']}/like",
                                headers={**shopper.headers, "X-Request-ID": request_id})  # fmt: skip
    assert response.status_code == 204
    assert response.headers["x-request-id"] == request_id
    eventually(lambda: any(line.get("message") == "events recorded"
                           for line in _log_lines("worker", request_id)),
               what="worker line with the catalog request id")  # fmt: skip
