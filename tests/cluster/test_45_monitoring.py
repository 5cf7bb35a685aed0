"""The dashboards and alerts on the cluster's own Prometheus: the one the
Prometheus Operator makes from kube-prometheus-stack's Prometheus resource
(`make up`'s chart on kind; on bare, deploy/bare/monitoring.py with the same
selectors, the operator built from its Go module). It must turn every
ServiceMonitor of the chart into a scrape pool with the job names the
dashboards use, load the chart's PrometheusRule, answer every query of every
dashboard after real traffic and an in-cluster Locust run, and raise an alert
for a real fault and clear it when the fault is removed."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from tests.observability.obs_support import dashboard_queries
from tests.utils.api import eventually
from tests.utils.kube import Cluster
from tests.utils.observe import (
    Traffic,
    active_alerts,
    alerts_raised,
    instant,
    ready,
    wait_for_series,
)
from tests.utils.stack import ROOT

sys.path.insert(0, str(ROOT / "deploy" / "bare"))
import monitoring  # deploy/bare/monitoring.py: the names kube-prometheus-stack gives

CHART_VALUES = yaml.safe_load((ROOT / "deploy/helm/sandbox/values.yaml").read_text())
RULE_FILES = sorted((ROOT / "observability/prometheus/rules").glob("*.yml"))
# What kube-prometheus-stack (KPS_VERSION in deploy/deploy.mk) renders from
# deploy/platform/kube-prometheus-stack.yaml, read by hand with the chart's
# templates/prometheus/prometheus.yaml: `<kind>SelectorNilUsesHelmValues: false`
# makes an empty selector (everything); scrapeConfig, which our values leave
# alone, keeps the chart's default, the release's label; no namespace selector
# is set, so each is empty (every namespace).
EXPECTED_SELECTORS: dict[str, Any] = {
    "serviceMonitorSelector": {},
    "serviceMonitorNamespaceSelector": {},
    "podMonitorSelector": {},
    "podMonitorNamespaceSelector": {},
    "probeSelector": {},
    "probeNamespaceSelector": {},
    "ruleSelector": {},
    "ruleNamespaceSelector": {},
    "scrapeConfigSelector": {"matchLabels": {"release": "kps"}},
    "scrapeConfigNamespaceSelector": {},
}
# Long enough for the Locust exporter to be scraped a few times and every
# panel query to be evaluated while it is.
LOCUST_RUN = "240s"


def expected_jobs() -> set[str]:
    """The job of every ServiceMonitor the chart makes (monitoring.yaml: the
    component, `<datastore>-exporter` for each exporter)."""
    components = {name for name, c in CHART_VALUES["components"].items() if c["enabled"]}
    exporters = {
        f"{name}-exporter"
        for name, d in CHART_VALUES["datastores"].items()
        if d["enabled"] and d["exporter"]["enabled"]
    }
    return components | exporters


@pytest.fixture(scope="module")
def prometheus(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> Iterator[httpx.Client]:
    service = cluster.get("service", monitoring.PROMETHEUS, namespace=monitoring.NAMESPACE)
    client = httpx.Client(base_url=cluster.url(service, monitoring.PORT), timeout=15)
    eventually(
        lambda: ready(client), timeout=300, interval=3, what="the operator's Prometheus ready"
    )
    yield client
    client.close()


def scrape_pools(prometheus: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    targets = prometheus.get("/api/v1/targets", params={"state": "active"}).json()
    pools: dict[str, list[dict[str, Any]]] = {}
    for target in targets["data"]["activeTargets"]:
        pools.setdefault(target["scrapePool"], []).append(target)
    return pools


def wait_for_pools_up(
    prometheus: httpx.Client, pools: dict[str, str], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """Waits until each scrape pool (name -> job) has targets, all up, with that job."""
    problems: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        found = scrape_pools(prometheus)
        problems = {}
        for pool, job in pools.items():
            targets = found.get(pool, [])
            if not targets:
                problems[pool] = "no target"
            elif bad := [t for t in targets if t["health"] != "up"]:
                problems[pool] = f"{bad[0]['scrapeUrl']}: {bad[0]['health']} {bad[0]['lastError']}"
            elif jobs := {t["labels"].get("job") for t in targets} - {job}:
                problems[pool] = f"job {sorted(jobs)}, the dashboards expect {job!r}"
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert not problems, "scrape pools not as the dashboards need them:\n" + "\n".join(
        f"  {pool}: {problem}" for pool, problem in sorted(problems.items())
    )
    return found


def test_prometheus_selects_as_our_kube_prometheus_stack_values_say(cluster: Cluster) -> None:
    """Against selectors written out by hand, not monitoring.selectors: on bare
    that function made the resource, so it could not disagree with itself."""
    spec = cluster.get("prometheus", monitoring.PROMETHEUS, namespace=monitoring.NAMESPACE)["spec"]
    assert {key: spec.get(key) for key in EXPECTED_SELECTORS} == EXPECTED_SELECTORS


def test_every_service_monitor_is_a_scrape_pool_whose_targets_are_up(
    cluster: Cluster, prometheus: httpx.Client
) -> None:
    monitors = cluster.items("servicemonitors.monitoring.coreos.com")
    pools = {
        f"serviceMonitor/{cluster.namespace}/{m['metadata']['name']}/0": m["metadata"]["labels"][
            m["spec"]["jobLabel"]
        ]
        for m in monitors
    }
    assert set(pools.values()) == expected_jobs()
    wait_for_pools_up(prometheus, pools, timeout=240)


def test_the_chart_rules_are_loaded_and_every_rule_evaluates(prometheus: httpx.Client) -> None:
    expected = {
        group["name"]: {rule.get("alert") or rule["record"] for rule in group["rules"]}
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
    }

    def evaluated() -> dict[str, dict[str, Any]] | None:
        groups = prometheus.get("/api/v1/rules").json()["data"]["groups"]
        rules = {g["name"]: {r["name"]: r for r in g["rules"]} for g in groups}
        done = all(
            group in rules
            and set(rules[group]) == names
            and all(not r["lastEvaluation"].startswith("0001") for r in rules[group].values())
            for group, names in expected.items()
        )
        return rules if done else None

    rules = eventually(evaluated, timeout=180, interval=5, what="every rule group loaded and run")
    failing = {
        f"{group}/{name}": rule.get("lastError")
        for group in expected
        for name, rule in rules[group].items()
        if rule["health"] != "ok"
    }
    assert not failing, f"rules that do not evaluate: {failing}"


def traffic(cluster: Cluster, urls: dict[str, str]) -> Traffic:
    """Traffic through the cluster's Services, admin writes included."""
    secret = f"{cluster.release}-credentials"
    return Traffic(
        urls,
        (
            cluster.secret_value(secret, "admin-email"),
            cluster.secret_value(secret, "admin-password"),
        ),
    )


def test_a_healthy_release_under_traffic_raises_no_alert(
    cluster: Cluster, prometheus: httpx.Client, urls: dict[str, str]
) -> None:
    """Ninety seconds of real traffic: any alert that fires is a false alarm.

    A pending alert is reported, not failed: it is a condition that held at
    one evaluation, which is what `for:` is there to absorb. The cluster
    tests before this one leave their load in the rules' 5-minute windows
    (the in-cluster Locust run's logins in the user service's p95), and a
    single missed scrape under that load can set a down alert pending."""
    raised: dict[str, str] = {}

    def watch(turn: int) -> None:
        if turn % 10 == 0:
            for name, what in alerts_raised(prometheus, cluster.namespace).items():
                if name not in raised or what.startswith("firing"):  # firing outranks pending
                    raised[name] = what

    client = traffic(cluster, urls)
    try:
        watch(0)
        client.run(90, on_turn=watch)
        watch(0)
    finally:
        client.close()
    firing = {name: what for name, what in raised.items() if what.startswith("firing")}
    assert not firing, f"alerts firing on a healthy release: {firing} (all raised: {raised})"


def test_every_dashboard_query_has_data_after_traffic_and_an_in_cluster_locust_run(
    cluster: Cluster, prometheus: httpx.Client, urls: dict[str, str]
) -> None:
    client = traffic(cluster, urls)
    try:
        client.run(40)
    finally:
        client.close()
    assert {2, 4} <= {status // 100 for status in client.statuses}, dict(client.statuses)

    try:
        result = cluster.install(*cluster.loadtest_args(LOCUST_RUN))
        assert result.returncode == 0, result.stdout + result.stderr
        (monitor,) = [
            m for m in cluster.items("servicemonitors.monitoring.coreos.com")
            if m["metadata"]["labels"]["app.kubernetes.io/component"] == "locust"
        ]  # fmt: skip
        pool = f"serviceMonitor/{cluster.namespace}/{monitor['metadata']['name']}/0"
        wait_for_pools_up(prometheus, {pool: "locust"}, timeout=120)
        queries, skipped = dashboard_queries(cluster.namespace, with_locust=True)
        assert not skipped
        empty = wait_for_series(prometheus, queries, 150)
        assert not empty, (
            f"{len(empty)} of {len(queries)} panel queries return no series on the cluster:\n"
            + "\n".join(f"  {label}\n      {expr}" for label, expr in sorted(empty.items()))
        )
    finally:
        restored = cluster.install()
        assert restored.returncode == 0, restored.stdout + restored.stderr


def alerts(prometheus: httpx.Client, name: str, namespace: str) -> list[dict[str, Any]]:
    """The alerts named `name` in `namespace`, with their state."""
    return [a for a in active_alerts(prometheus, namespace) if a["labels"]["alertname"] == name]


def test_stopping_the_worker_fires_its_alert_and_starting_it_resolves_it(
    cluster: Cluster, prometheus: httpx.Client
) -> None:
    worker = f"deploy/{cluster.release}-worker"
    count = cluster.get(worker)["spec"]["replicas"]
    assert not alerts(prometheus, "SandboxWorkerDown", cluster.namespace), "firing before the fault"
    seen: set[str] = set()
    try:
        cluster.ns("scale", worker, "--replicas=0")

        def firing() -> bool:
            states = {
                a["state"] for a in alerts(prometheus, "SandboxWorkerDown", cluster.namespace)
            }
            seen.update(states)
            return "firing" in states

        # The rule's `for: 2m`, after the scrape pool empties and the next evaluation.
        eventually(firing, timeout=300, interval=5, what="SandboxWorkerDown firing")
        assert "pending" in seen, f"went straight to {seen}: the rule's `for` was not honoured"
    finally:
        cluster.ns("scale", worker, f"--replicas={count}")
    cluster.wait_ready("worker")
    eventually(
        lambda: not alerts(prometheus, "SandboxWorkerDown", cluster.namespace),
        timeout=180, interval=5, what="SandboxWorkerDown resolved",
    )  # fmt: skip
    assert instant(
        prometheus,
        f'sandbox_celery_worker_up{{namespace="{cluster.namespace}", job="worker"}} == 1',
    )
