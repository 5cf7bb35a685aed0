"""Sandbox / Load test: what Locust sends and sees, beside what the services serve."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import bargauge, stat, timeseries
from .lib.promql import HTTP_DURATION, HTTP_JOBS, NS, RI, http, quantile, ratio_or_zero
from .lib.targets import prom
from .lib.thresholds import ERROR_RATIO, LATENCY, NEUTRAL, steps
from .lib.variables import namespace_var, service_query_var


def build() -> Dashboard:
    d = Dashboard(
        uid="sandbox-loadtest",
        title="Sandbox / Load test",
        description="What Locust sends and sees, beside what the services serve.",
        tags=["loadtest"],
        variables=[namespace_var(), service_query_var(HTTP_JOBS)],
    )
    sel = f'{NS}, job=~"$service"'
    reason = (
        "Locust's exporter is scraped only while a load test runs "
        "(locally and in the cluster alike)."
    )
    lrate = f"sum(rate(locust_requests_total[{RI}]))"
    d.row("Locust (client side)")
    d.add(
        stat(
            "Users",
            "Simulated users Locust is running.",
            [prom("sum(locust_users)", "users")],
            unit="none",
            thresholds=NEUTRAL,
            scope="locust",
            reason=reason,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Requests sent",
            "Requests per second Locust sends, failures included.",
            [prom(lrate, "req/s")],
            unit="reqps",
            thresholds=NEUTRAL,
            scope="locust",
            reason=reason,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Failure ratio (Locust)",
            "Share of Locust's requests it counted as failed: an unexpected status, a failed "
            "response check, or a connection error.",
            [
                prom(
                    ratio_or_zero(
                        "",
                        f"rate(locust_failures_total[{RI}])",
                        f"rate(locust_requests_total[{RI}])",
                    ),
                    "failed",
                )
            ],
            unit="percentunit",
            decimals=2,
            thresholds=ERROR_RATIO,
            scope="locust",
            reason=reason,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "p95 response time (Locust)",
            "95th percentile of response time as Locust measures it, network included.",
            [prom(quantile(0.95, "locust_response_time_seconds", "", ""), "p95")],
            unit="s",
            thresholds=LATENCY,
            scope="locust",
            reason=reason,
        ),
        w=6,
        h=5,
    )
    d.row("Locust beside the services")
    d.add(
        timeseries(
            "Request rate: sent vs served",
            "Requests per second Locust sends against the requests the services count. A gap "
            "means requests lost before the app (connection errors, a gateway) or health probes "
            "and other clients counted by the services.",
            [prom(lrate, "Locust sent"), prom(f"sum({http(sel)})", "services served")],
            unit="reqps",
            scope="locust",
            reason=reason,
        )
    )
    d.add(
        timeseries(
            "p95: client vs server",
            "Locust's p95 (client side, network and queueing included) against the services' "
            "p95 (inside the app). A widening gap points at the network, the gateway or the "
            "server's accept queue.",
            [
                prom(quantile(0.95, "locust_response_time_seconds", "", ""), "Locust p95"),
                prom(quantile(0.95, HTTP_DURATION, sel, ""), "services p95"),
            ],
            unit="s",
            thresholds=LATENCY,
            show_thresholds=True,
            scope="locust",
            reason=reason,
        )
    )
    d.add(
        timeseries(
            "Failures: Locust vs 5xx",
            "Locust's failure ratio against the services' 5xx ratio. Locust failures without "
            "5xx are 4xx the test did not expect, failed checks or connection errors.",
            [
                prom(
                    ratio_or_zero(
                        "",
                        f"rate(locust_failures_total[{RI}])",
                        f"rate(locust_requests_total[{RI}])",
                    ),
                    "Locust failures",
                ),
                prom(
                    ratio_or_zero("", http(sel + ', status_class="5xx"'), http(sel)), "services 5xx"
                ),
            ],
            unit="percentunit",
            thresholds=ERROR_RATIO,
            show_thresholds=True,
            scope="locust",
            reason=reason,
        )
    )
    d.add(
        timeseries(
            "Users and requests in flight",
            "Locust users against the requests in flight inside the services: with enough users, "
            "in-flight requests plateau at what the services can work on at once.",
            [
                prom("sum(locust_users)", "Locust users"),
                prom(f"sum(sandbox_http_requests_in_flight{{{sel}}})", "in flight"),
            ],
            unit="short",
            scope="locust",
            reason=reason,
        )
    )
    d.row("Per request name")
    d.add(
        bargauge(
            "Request rate by name",
            "Requests per second per Locust request name and method.",
            [
                prom(
                    f"sort_desc(sum by (method, name) (rate(locust_requests_total[{RI}])))",
                    "{{method}} {{name}}",
                    instant=True,
                )
            ],
            unit="reqps",
            thresholds=NEUTRAL,
            scope="locust",
            reason=reason,
        ),
        w=8,
        h=10,
    )
    d.add(
        bargauge(
            "p95 by name",
            "95th percentile response time per Locust request name.",
            [
                prom(
                    "sort_desc("
                    + quantile(0.95, "locust_response_time_seconds", "", "method, name")
                    + ")",
                    "{{method}} {{name}}",
                    instant=True,
                )
            ],
            unit="s",
            thresholds=LATENCY,
            scope="locust",
            reason=reason,
        ),
        w=8,
        h=10,
    )
    d.add(
        bargauge(
            "Failures by name",
            "Failures per second per Locust request name.",
            [
                prom(
                    f"sort_desc(sum by (method, name) (rate(locust_failures_total[{RI}])))",
                    "{{method}} {{name}}",
                    instant=True,
                )
            ],
            unit="reqps",
            thresholds=steps(("green", None), ("red", 0.01)),
            scope="locust",
            reason=reason,
        ),
        w=8,
        h=10,
    )
    d.row("Services under load")
    d.add(
        timeseries(
            "Served rate by service",
            "Requests per second per service.",
            [prom(f"sum by (job) ({http(sel)})", "{{job}}")],
            unit="reqps",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "p95 by service",
            "95th percentile of request duration per service.",
            [prom(quantile(0.95, HTTP_DURATION, sel, "job"), "{{job}}")],
            unit="s",
            thresholds=LATENCY,
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Celery queue length",
            "Messages waiting per queue: work the load pushed to the worker.",
            [prom(f"max by (queue) (sandbox_celery_queue_length{{{NS}}})", "{{queue}}")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 50), ("red", 500)),
            show_thresholds=True,
        ),
        w=8,
    )
    return d
