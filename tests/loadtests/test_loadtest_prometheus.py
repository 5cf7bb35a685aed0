"""Locust's numbers in Prometheus: the names the dashboard relies on, and worker totals."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
export = importlib.import_module("prometheus_export")


class _Fixed:
    def __init__(self, metrics, users):
        self.metrics, self.users = metrics, users

    def collect(self):
        yield from self.metrics.families(self.users)


def scrape(metrics, users=0) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(metrics, users))
    text = generate_latest(registry).decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(**extra):
    return tuple(sorted(extra.items()))


def test_exported_names_and_labels_are_the_dashboard_contract():
    metrics = export.RequestMetrics()
    metrics.observe("/api/v1/products/{product_id}", "GET", 0.012, failed=False, fold=True)
    metrics.observe("/api/v1/products/{product_id}", "GET", 0.3, failed=True, fold=True)
    samples = scrape(metrics, users=7)
    route = {"name": "/api/v1/products/{product_id}", "method": "GET"}
    assert samples[("locust_users", ())] == 7
    assert samples[("locust_requests_total", labels(**route))] == 2
    assert samples[("locust_failures_total", labels(**route))] == 1
    assert samples[("locust_response_time_seconds_count", labels(**route))] == 2
    assert samples[("locust_response_time_seconds_sum", labels(**route))] == 0.312
    assert samples[("locust_response_time_seconds_bucket", labels(**route, le="0.005"))] == 0
    assert samples[("locust_response_time_seconds_bucket", labels(**route, le="0.025"))] == 1
    assert samples[("locust_response_time_seconds_bucket", labels(**route, le="0.3"))] == 2
    assert samples[("locust_response_time_seconds_bucket", labels(**route, le="+Inf"))] == 2


def test_buckets_span_five_milliseconds_to_five_seconds():
    assert export.BUCKETS[0] == 0.005
    assert export.BUCKETS[-1] == 5.0
    assert list(export.BUCKETS) == sorted(export.BUCKETS)


def test_slower_than_the_last_bucket_lands_in_inf_only():
    metrics = export.RequestMetrics()
    metrics.observe("/slow", "GET", 9.0, failed=False, fold=True)
    samples = scrape(metrics)
    assert (
        samples[
            ("locust_response_time_seconds_bucket", labels(name="/slow", method="GET", le="5.0"))
        ]
        == 0
    )
    assert (
        samples[
            ("locust_response_time_seconds_bucket", labels(name="/slow", method="GET", le="+Inf"))
        ]
        == 1
    )


def test_worker_reports_add_up_on_the_master_and_are_sent_once():
    worker_a, worker_b, master = (export.RequestMetrics() for _ in range(3))
    worker_a.observe("/x", "GET", 0.02, failed=False, fold=False)
    worker_a.observe("/x", "GET", 0.04, failed=True, fold=False)
    worker_b.observe("/x", "GET", 0.02, failed=False, fold=False)
    master.merge(worker_a.take_pending())
    master.merge(worker_b.take_pending())
    master.merge(worker_a.take_pending())  # nothing new since the last report
    samples = scrape(master)
    assert samples[("locust_requests_total", labels(name="/x", method="GET"))] == 3
    assert samples[("locust_failures_total", labels(name="/x", method="GET"))] == 1
    assert (
        samples[
            ("locust_response_time_seconds_bucket", labels(name="/x", method="GET", le="0.025"))
        ]
        == 2
    )
