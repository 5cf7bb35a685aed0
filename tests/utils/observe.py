"""What the observability tests share, locally and on the cluster: Prometheus's
query API, and real traffic through the public API that moves every panel."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx


def instant(prometheus: httpx.Client, expr: str) -> list[dict[str, Any]]:
    response = prometheus.get("/api/v1/query", params={"query": expr})
    body = response.json()
    if body.get("status") != "success":
        raise AssertionError(f"{body.get('errorType')}: {body.get('error')} in {expr}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def ready(prometheus: httpx.Client) -> bool:
    try:
        return prometheus.get("/-/ready").status_code == 200
    except httpx.HTTPError:
        return False


def active_alerts(prometheus: httpx.Client, namespace: str | None = None) -> list[dict[str, Any]]:
    """Every alert pending or firing now (in `namespace` when given)."""
    found: list[dict[str, Any]] = prometheus.get("/api/v1/alerts").json()["data"]["alerts"]
    return [a for a in found if namespace is None or a["labels"].get("namespace") == namespace]


def alerts_raised(prometheus: httpx.Client, namespace: str | None = None) -> dict[str, str]:
    """The same as "name job" -> state and summary."""
    return {
        f"{a['labels']['alertname']} {a['labels'].get('job', '')}".strip():
            f"{a['state']}: {a['annotations'].get('summary', '')}"
        for a in active_alerts(prometheus, namespace)
    }  # fmt: skip


def wait_for_series(
    prometheus: httpx.Client, queries: dict[str, str], seconds: float
) -> dict[str, str]:
    """The queries still without a series after `seconds`; errors fail at once."""
    pending = dict(queries)
    deadline = time.monotonic() + seconds
    while True:
        errors = {}
        for label, expr in list(pending.items()):
            try:
                if instant(prometheus, expr):
                    del pending[label]
            except AssertionError as error:
                errors[label] = str(error)
        assert not errors, "queries Prometheus rejects:\n" + "\n".join(
            f"  {k}: {v}" for k, v in errors.items()
        )
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(5)


# --- traffic ------------------------------------------------------------------------------


class Traffic:
    """Real requests through the contract, some of them meant to fail with a 4xx."""

    def __init__(self, urls: dict[str, str], admin: tuple[str, str] | None = None) -> None:
        self.user = httpx.Client(base_url=urls["user"], timeout=10)
        self.catalog = httpx.Client(base_url=urls["catalog"], timeout=10)
        self.activity = httpx.Client(base_url=urls["activity"], timeout=10)
        self.admin_credentials = admin
        self.statuses: Counter[int] = Counter()
        self.tokens: list[str] = []
        self.admin: str | None = None
        self.failed_login = False

    def close(self) -> None:
        for client in (self.user, self.catalog, self.activity):
            client.close()

    def call(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = client.request(method, path, **kwargs)
        self.statuses[response.status_code] += 1
        return response

    @staticmethod
    def bearer(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def login(self, email: str, password: str) -> httpx.Response:
        return self.call(
            self.user, "POST", "/api/v1/auth/token", data={"username": email, "password": password}
        )

    def new_user(self) -> str:
        email = f"obs-{uuid.uuid4().hex[:12]}@example.com"
        password = f"pw-{uuid.uuid4().hex}"
        account = {"email": email, "password": password, "display_name": "Observer"}
        created = self.call(self.user, "POST", "/api/v1/auth/register", json=account)
        assert created.status_code == 201, created.text
        self.call(self.user, "POST", "/api/v1/auth/register", json=account)  # 409
        self.call(self.user, "POST", "/api/v1/auth/register", json={**account, "password": "x"})
        if not self.failed_login:
            # One 401 per run: failures count against this client's login throttle.
            self.login(email, "not-the-password")
            self.failed_login = True
        tokens = self.login(email, password)
        assert tokens.status_code == 200, tokens.text
        pair = tokens.json()
        self.call(
            self.user, "POST", "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        return str(pair["access_token"])

    def admin_token(self) -> str | None:
        if not self.admin_credentials:
            return None
        response = self.login(*self.admin_credentials)
        return str(response.json()["access_token"]) if response.status_code == 200 else None

    def product_ids(self) -> list[str]:
        page = self.call(self.catalog, "GET", "/api/v1/products", params={"limit": 20})
        assert page.status_code == 200, page.text
        return [str(item["id"]) for item in page.json()["items"]]

    def write_products(self) -> str | None:
        """Create, update and delete one product as admin; keep one for browsing."""
        if not self.admin:
            return None
        headers = self.bearer(self.admin)
        slug = f"obs-{uuid.uuid4().hex[:8]}"
        self.call(
            self.catalog,
            "POST",
            "/api/v1/categories",
            json={"slug": slug, "name": slug},
            headers=headers,
        )
        kept = None
        for _ in range(2):
            product = {
                "sku": f"OBS-{uuid.uuid4().hex[:10]}",
                "name": "Observability probe",
                "description": "Written by the observability test.",
                "price": "12.50",
                "currency": "EUR",
                "category": slug,
                "stock": 5,
            }
            created = self.call(
                self.catalog, "POST", "/api/v1/products", json=product, headers=headers
            )
            if created.status_code != 201:
                return kept
            product_id = created.json()["id"]
            self.call(
                self.catalog,
                "PATCH",
                f"/api/v1/products/{product_id}",
                json={"stock": 6},
                headers=headers,
            )
            if kept is None:
                kept = str(product_id)
            else:
                self.call(self.catalog, "DELETE", f"/api/v1/products/{product_id}", headers=headers)
        return kept

    def browse(self, token: str, product_id: str, missing_id: str) -> None:
        auth = self.bearer(token)
        self.call(self.catalog, "GET", "/api/v1/categories")
        self.call(self.catalog, "GET", "/api/v1/products", params={"limit": 5, "sort": "price"})
        first = self.call(self.catalog, "GET", f"/api/v1/products/{product_id}", headers=auth)
        etag = first.headers.get("ETag")
        if etag:
            self.call(
                self.catalog,
                "GET",
                f"/api/v1/products/{product_id}",
                headers={"If-None-Match": etag},
            )
        self.call(self.catalog, "GET", f"/api/v1/products/{missing_id}")  # 404
        self.call(self.catalog, "POST", f"/api/v1/products/{product_id}/like", headers=auth)
        self.call(self.catalog, "POST", f"/api/v1/products/{product_id}/like")  # 401
        event = {"type": "product.viewed", "object_id": product_id, "metadata": {"from": "obs"}}
        self.call(self.activity, "POST", "/api/v1/activity/events", json=event, headers=auth)
        self.call(
            self.activity,
            "POST",
            "/api/v1/activity/events",
            json=event,
            headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        )
        self.call(
            self.activity,
            "POST",
            "/api/v1/activity/events",
            json={**event, "type": "bogus"},
            headers=auth,
        )  # 422
        self.call(self.activity, "GET", "/api/v1/activity/me", params={"limit": 5}, headers=auth)
        self.call(self.activity, "GET", "/api/v1/activity/me")  # 401
        self.call(self.activity, "GET", f"/api/v1/activity/products/{product_id}/stats")
        self.call(self.activity, "GET", "/api/v1/activity/trending", params={"window": "1h"})
        self.call(self.user, "GET", "/api/v1/users/me", headers=auth)
        self.call(self.user, "GET", "/api/v1/users", headers=auth)  # 403
        for client in (self.user, self.catalog, self.activity):
            self.call(client, "GET", "/api/v1/no-such-route")  # 404 <unmatched>

    def run(self, seconds: float, on_turn: Callable[[int], None] | None = None) -> int:
        """Browse, write and register for `seconds`; `on_turn` is called after
        every round. The number of rounds."""
        deadline = time.monotonic() + seconds
        self.tokens = [self.new_user() for _ in range(3)]
        self.admin = self.admin_token()
        written = self.write_products()
        ids = self.product_ids()
        if written:
            ids.append(written)
        assert ids, "the catalog is empty: seed it (make seed) or give admin credentials"
        missing = "999999999" if ids[0].isdigit() else str(uuid.uuid4())
        turn = 0
        while time.monotonic() < deadline:
            self.browse(self.tokens[turn % len(self.tokens)], ids[turn % len(ids)], missing)
            if turn % 15 == 14:
                self.write_products()
                self.tokens.append(self.new_user())
            turn += 1
            if on_turn:
                on_turn(turn)
            time.sleep(0.1)
        return turn
