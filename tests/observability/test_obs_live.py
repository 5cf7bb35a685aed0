"""Every dashboard query and every rule returns data from the running stack.

Needs the local stack (`make local-up`; `make test` starts it): the services
on SANDBOX_USER_URL / SANDBOX_CATALOG_URL / SANDBOX_ACTIVITY_URL and the
Prometheus at SANDBOX_PROMETHEUS_URL that scrapes them every 5 s and loads
observability/prometheus/rules. The module first drives real traffic through
the public API (SANDBOX_OBS_LOAD_SECONDS, default 40): registrations, logins,
browsing, likes, events, admin product writes when SANDBOX_ADMIN_EMAIL and
SANDBOX_ADMIN_PASSWORD are set, and deliberate 4xx. Then it evaluates:

- every PromQL query of every dashboard panel, with $namespace set to
  SANDBOX_PROMETHEUS_NAMESPACE (default "local"), each variable with "All"
  selected set to its allValue, a constant to its value, $__rate_interval to
  1m and $__range to 1h;
- every recording rule's expression and the series it records;
- every alerting rule's measurements: an alert condition is empty when all is
  well, so the comparison is stripped (`up == 0` is checked as `up`, and
  `a > x and b > y` as `a` and `b`; see obs_support.measurements).

A query that returns no series is retried until SANDBOX_OBS_WAIT_SECONDS
(default 90) have passed, which covers scrapes and rule evaluation, and then
reported. Every panel is evaluated, the datastores' ones against the local
stack's exporters, except that panels marked "Locust run only:" are evaluated
only while Prometheus scrapes a Locust exporter (their non-Locust queries
always are).
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from obs_support import (
    LOCUST,
    load_dashboards,
    load_rule_files,
    measurements,
    metric_names,
    panel_queries,
    variable_values,
)
from obs_support import (
    substitute as substitute_vars,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMETHEUS_URL = os.environ.get("SANDBOX_PROMETHEUS_URL", "http://127.0.0.1:9090")
NAMESPACE = os.environ.get("SANDBOX_PROMETHEUS_NAMESPACE", "local")
USER_URL = os.environ.get("SANDBOX_USER_URL", "http://127.0.0.1:8001")
CATALOG_URL = os.environ.get("SANDBOX_CATALOG_URL", "http://127.0.0.1:8002")
ACTIVITY_URL = os.environ.get("SANDBOX_ACTIVITY_URL", "http://127.0.0.1:8003")
LOAD_SECONDS = float(os.environ.get("SANDBOX_OBS_LOAD_SECONDS", "40"))
WAIT_SECONDS = float(os.environ.get("SANDBOX_OBS_WAIT_SECONDS", "90"))
JOBS = ("user", "catalog", "activity", "worker", "beat")


def instant(prometheus: httpx.Client, expr: str) -> list[dict[str, Any]]:
    response = prometheus.get("/api/v1/query", params={"query": expr})
    body = response.json()
    if body.get("status") != "success":
        raise AssertionError(f"{body.get('errorType')}: {body.get('error')} in {expr}")
    return body["data"]["result"]


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

    def __init__(self) -> None:
        self.user = httpx.Client(base_url=USER_URL, timeout=10)
        self.catalog = httpx.Client(base_url=CATALOG_URL, timeout=10)
        self.activity = httpx.Client(base_url=ACTIVITY_URL, timeout=10)
        self.statuses: Counter[int] = Counter()
        self.tokens: list[str] = []
        self.admin: str | None = None

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
        self.login(email, "not-the-password")  # 401, one failure only: throttling is per client
        tokens = self.login(email, password)
        assert tokens.status_code == 200, tokens.text
        pair = tokens.json()
        self.call(
            self.user, "POST", "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        return str(pair["access_token"])

    def admin_token(self) -> str | None:
        email, password = (
            os.environ.get("SANDBOX_ADMIN_EMAIL"),
            os.environ.get("SANDBOX_ADMIN_PASSWORD"),
        )
        if not (email and password):
            return None
        response = self.login(email, password)
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

    def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        self.tokens = [self.new_user() for _ in range(3)]
        self.admin = self.admin_token()
        written = self.write_products()
        ids = self.product_ids()
        if written:
            ids.append(written)
        assert ids, "the catalog is empty: seed it (make seed) or set SANDBOX_ADMIN_EMAIL/PASSWORD"
        missing = "999999999" if ids[0].isdigit() else str(uuid.uuid4())
        turn = 0
        while time.monotonic() < deadline:
            self.browse(self.tokens[turn % len(self.tokens)], ids[turn % len(ids)], missing)
            if turn % 15 == 14:
                self.write_products()
                self.tokens.append(self.new_user())
            turn += 1
            time.sleep(0.1)


@pytest.fixture(scope="module")
def prometheus() -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=PROMETHEUS_URL, timeout=15)
    try:
        client.get("/-/ready").raise_for_status()
    except httpx.HTTPError as error:
        client.close()
        pytest.fail(f"Prometheus at {PROMETHEUS_URL} is not ready ({error}); run make local-up")
    up_query = f'up{{namespace="{NAMESPACE}", job=~"{"|".join(JOBS)}"}} == 1'
    missing = wait_for_series(
        client,
        {job: up_query.replace(f'job=~"{"|".join(JOBS)}"', f'job="{job}"') for job in JOBS},
        60,
    )
    assert not missing, f"targets not up in Prometheus: {sorted(missing)}"

    traffic = Traffic()
    try:
        traffic.run(LOAD_SECONDS)
    finally:
        traffic.close()
    assert traffic.statuses, "no request was made"
    classes = {status // 100 for status in traffic.statuses}
    assert {2, 4} <= classes, f"traffic needs 2xx and 4xx, got {dict(traffic.statuses)}"
    time.sleep(12)  # two scrapes at 5 s, then compare
    yield client
    client.close()


def locust_is_scraped(prometheus: httpx.Client) -> bool:
    return bool(instant(prometheus, f'up{{job="locust", namespace="{NAMESPACE}"}} == 1'))


def test_every_dashboard_panel_query_returns_series(prometheus: httpx.Client) -> None:
    dashboards = load_dashboards()
    with_locust = locust_is_scraped(prometheus)
    queries, skipped = {}, []
    for query in panel_queries():
        # Every PromQL panel answers locally: the local stack runs the
        # datastores' exporters too. Only Locust's need a load test running.
        if query.scope == "locust" and not with_locust and metric_names(query.expr) & LOCUST:
            skipped.append(f"{query.label}: {query.reason}")
            continue
        values = variable_values(dashboards[query.dashboard], NAMESPACE)
        queries[query.label] = substitute_vars(query.expr, values)
    assert len(queries) > 60
    empty = wait_for_series(prometheus, queries, WAIT_SECONDS)
    assert not empty, (
        f"{len(empty)} of {len(queries)} panel queries return no series "
        f"({len(skipped)} Locust-only ones skipped):\n"
        + "\n".join(f"  {label}\n      {expr}" for label, expr in sorted(empty.items()))
    )


def test_template_variables_find_the_local_namespace_and_services(prometheus: httpx.Client) -> None:
    jobs = {s["metric"].get("job") for s in instant(prometheus, f'up{{namespace="{NAMESPACE}"}}')}
    assert set(JOBS) <= jobs, f"jobs scraped in {NAMESPACE}: {sorted(jobs)}"


def test_every_rule_expression_returns_series(prometheus: httpx.Client) -> None:
    queries = {}
    for rule in load_rule_files():
        if "record" in rule:
            queries[f"{rule['file']} {rule['record']} (expr)"] = rule["expr"]
            queries[f"{rule['file']} {rule['record']} (recorded)"] = (
                f'{rule["record"]}{{namespace="{NAMESPACE}"}}'
            )
        else:
            for index, expr in enumerate(measurements(rule["expr"])):
                queries[f"{rule['file']} {rule['alert']} (measurement {index + 1})"] = expr
    empty = wait_for_series(prometheus, queries, WAIT_SECONDS)
    assert not empty, (
        f"{len(empty)} of {len(queries)} rule expressions return no series:\n"
        + "\n".join(
            f"  {label}\n      {' '.join(expr.split())}" for label, expr in sorted(empty.items())
        )
    )
