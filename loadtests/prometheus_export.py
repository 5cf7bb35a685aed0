"""Locust's own numbers as Prometheus metrics, on ``/metrics`` of port 9646.

The names are a contract with the load-test dashboard:

- ``locust_users``                                    gauge, running users
- ``locust_requests_total{name,method}``              counter
- ``locust_failures_total{name,method}``              counter
- ``locust_response_time_seconds{name,method}``       histogram, 5 ms .. 5 s

Requests are counted where they happen. A local run folds them in at once;
a worker ships what it counted since its last report with its regular report
to the master (``report_to_master``), and the master (``worker_report``) adds
them up and serves the totals. Counters never reset during the life of the
process, so ``rate()`` stays right across stats resets and consecutive runs.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

logger = logging.getLogger(__name__)

# Dense where web latencies live (25-500 ms), reaching 5 s for timeouts.
BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3,
    0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0,
)  # fmt: skip
REPORT_KEY = "sandbox_prometheus"

Key = tuple[str, str]  # (name, method)


class _Series:
    __slots__ = ("buckets", "failures", "requests", "seconds")

    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.seconds = 0.0
        # Per-bucket (not cumulative) counts; the last slot is +Inf.
        self.buckets = [0] * (len(BUCKETS) + 1)

    def observe(self, seconds: float, failed: bool) -> None:
        self.requests += 1
        self.failures += int(failed)
        self.seconds += seconds
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1

    def add(self, requests: int, failures: int, seconds: float, buckets: list[int]) -> None:
        self.requests += requests
        self.failures += failures
        self.seconds += seconds
        for index, count in enumerate(buckets[: len(self.buckets)]):
            self.buckets[index] += count


class RequestMetrics:
    """Per (name, method) counts; ``pending`` is what a worker has not reported yet."""

    def __init__(self) -> None:
        self.totals: dict[Key, _Series] = {}
        self.pending: dict[Key, _Series] = {}

    def observe(self, name: str, method: str, seconds: float, failed: bool, fold: bool) -> None:
        target = self.totals if fold else self.pending
        target.setdefault((name, method), _Series()).observe(seconds, failed)

    def take_pending(self) -> list[list[Any]]:
        """The unreported counts as plain lists (they travel as msgpack), then forget them."""
        report = [
            [name, method, s.requests, s.failures, s.seconds, s.buckets]
            for (name, method), s in self.pending.items()
        ]
        self.pending = {}
        return report

    def merge(self, report: list[list[Any]]) -> None:
        for name, method, requests, failures, seconds, buckets in report:
            self.totals.setdefault((name, method), _Series()).add(
                int(requests), int(failures), float(seconds), list(buckets)
            )

    def families(self, users: int) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("locust_users", "Users running now")
        gauge.add_metric([], users)
        yield gauge
        labels = ["name", "method"]
        requests = CounterMetricFamily("locust_requests", "Requests sent", labels=labels)
        failures = CounterMetricFamily("locust_failures", "Requests that failed", labels=labels)
        latency = HistogramMetricFamily(
            "locust_response_time_seconds", "Response time seen by Locust", labels=labels
        )
        for (name, method), series in sorted(self.totals.items()):
            requests.add_metric([name, method], series.requests)
            failures.add_metric([name, method], series.failures)
            cumulative, points = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), series.buckets, strict=True):
                cumulative += count
                points.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            latency.add_metric([name, method], points, sum_value=series.seconds)
        yield requests
        yield failures
        yield latency


class _Collector:
    def __init__(self, metrics: RequestMetrics, environment: Any) -> None:
        self.metrics = metrics
        self.environment = environment

    def collect(self) -> Iterator[Metric]:
        runner = self.environment.runner
        users = runner.user_count if runner is not None else 0
        yield from self.metrics.families(users)


def install(environment: Any, port: int, host: str = "") -> RequestMetrics:
    """Hook the counting into Locust's events; serve ``/metrics`` unless this is a worker."""
    from locust.runners import MasterRunner, WorkerRunner

    metrics = RequestMetrics()
    runner = environment.runner
    is_worker = isinstance(runner, WorkerRunner)

    def on_request(request_type: str, name: str, response_time: float, exception: Any, **_: Any):
        metrics.observe(
            name, request_type, (response_time or 0) / 1000.0, exception is not None, not is_worker
        )

    environment.events.request.add_listener(on_request)

    if is_worker:

        def on_report_to_master(client_id: str, data: dict[str, Any]) -> None:
            data[REPORT_KEY] = metrics.take_pending()

        environment.events.report_to_master.add_listener(on_report_to_master)
        return metrics

    if isinstance(runner, MasterRunner):

        def on_worker_report(client_id: str, data: dict[str, Any]) -> None:
            metrics.merge(data.get(REPORT_KEY) or [])

        environment.events.worker_report.add_listener(on_worker_report)

    if port:
        _serve(metrics, environment, port, host)
    return metrics


def _serve(metrics: RequestMetrics, environment: Any, port: int, host: str) -> None:
    from gevent.pywsgi import WSGIServer

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metrics, environment))
    app = make_wsgi_app(registry)
    server = WSGIServer((host, port), app, log=None, error_log=logger)
    try:
        server.start()
    except OSError as error:
        # A second run on the same machine must not fail for want of a metrics port.
        logger.warning("Prometheus metrics not served: port %s unavailable (%s)", port, error)
        return
    logger.info("Prometheus metrics on http://%s:%s/metrics", host or "0.0.0.0", port)  # noqa: S104
