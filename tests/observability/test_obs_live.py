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
from collections.abc import Iterator

import httpx
import pytest
from obs_support import dashboard_queries, load_rule_files, measurements

from sandbox_common.topology import local_url
from tests.utils.observe import Traffic, instant, wait_for_series
from tests.utils.stack import stack_env, stack_module

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROMETHEUS_URL = stack_env().get(
    "SANDBOX_PROMETHEUS_URL", f"http://127.0.0.1:{stack_module().PROMETHEUS_PORT}"
)
NAMESPACE = os.environ.get("SANDBOX_PROMETHEUS_NAMESPACE", "local")
USER_URL = os.environ.get("SANDBOX_USER_URL", local_url("user"))
CATALOG_URL = os.environ.get("SANDBOX_CATALOG_URL", local_url("catalog"))
ACTIVITY_URL = os.environ.get("SANDBOX_ACTIVITY_URL", local_url("activity"))
LOAD_SECONDS = float(os.environ.get("SANDBOX_OBS_LOAD_SECONDS", "40"))
WAIT_SECONDS = float(os.environ.get("SANDBOX_OBS_WAIT_SECONDS", "90"))
JOBS = ("user", "catalog", "activity", "worker", "beat")


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

    email = os.environ.get("SANDBOX_ADMIN_EMAIL")
    password = os.environ.get("SANDBOX_ADMIN_PASSWORD")
    traffic = Traffic(
        {"user": USER_URL, "catalog": CATALOG_URL, "activity": ACTIVITY_URL},
        (email, password) if email and password else None,
    )
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
    # Every PromQL panel answers locally: the local stack runs the datastores'
    # exporters too. Only Locust's need a load test running.
    queries, skipped = dashboard_queries(NAMESPACE, locust_is_scraped(prometheus))
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
