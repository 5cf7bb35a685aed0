"""Sandbox / Overview: RED metrics of every service and the SLO's error budget."""

from __future__ import annotations

import re

from .lib.layout import Dashboard
from .lib.panels import bargauge, stat, table, timeseries
from .lib.promql import (
    ALL_JOBS,
    HTTP_DURATION,
    HTTP_JOBS,
    NS,
    http,
    quantile,
    ratio_or_zero,
)
from .lib.slo import SLO
from .lib.targets import prom
from .lib.thresholds import ERROR_RATIO, LATENCY, NEUTRAL, UP, UP_MAPPINGS, steps
from .lib.variables import namespace_var, service_query_var

# The colour of a burn-rate alert's threshold line, by the alert's severity.
SEVERITY_COLOURS = {"warning": "orange", "critical": "red"}


def spaced(window: str) -> str:
    """A PromQL duration as prose: "30m" -> "30 m"."""
    return re.sub(r"(\d+)([a-z]+)", r"\1 \2", window)


def build() -> Dashboard:
    d = Dashboard(
        uid="sandbox-overview",
        title="Sandbox / Overview",
        description="RED metrics of every service and the error budget of the sandbox SLO.",
        tags=["overview"],
        variables=[namespace_var(), service_query_var(HTTP_JOBS)],
    )
    sel = f'{NS}, job=~"$service"'
    errors_over_range = ratio_or_zero(
        "job", http(sel + ', status_class="5xx"', "$__range"), http(sel, "$__range")
    )
    d.row(
        f"SLO: {SLO.availability:.1%} of requests without a 5xx, "
        f"{SLO.percentile_label} under {SLO.latency_text}"
    )
    d.add(
        stat(
            "Availability over the time range",
            "Share of requests answered without a 5xx during the dashboard's time range, per "
            f"service. The SLO is {SLO.availability:.1%}; red below it.",
            [prom(f"1 - {errors_over_range}", "{{job}}")],
            unit="percentunit",
            decimals=2,
            thresholds=steps(("red", None), ("green", SLO.availability)),
        ),
        w=6,
    )
    d.add(
        stat(
            "Error budget remaining",
            f"How much of the {SLO.error_budget:.1%} error budget the time range has left: 100 % "
            "means no 5xx at all, 0 % means the SLO is exactly met, below 0 it is missed.",
            [prom(f"1 - {errors_over_range} / {SLO.error_budget}", "{{job}}")],
            unit="percentunit",
            decimals=1,
            thresholds=steps(("red", None), ("orange", 0), ("green", 0.25)),
        ),
        w=6,
    )
    d.add(
        stat(
            f"{SLO.percentile_label} latency over the time range",
            f"{SLO.percentile_text} of server-side request duration over the time range. The "
            f"SLO is {SLO.latency_text}: orange from 80 % of it, red above it.",
            [
                prom(
                    quantile(SLO.latency_percentile, HTTP_DURATION, sel, "job", "$__range"),
                    "{{job}}",
                )
            ],
            unit="s",
            thresholds=LATENCY,
        ),
        w=6,
    )
    d.add(
        stat(
            f"Requests faster than {SLO.latency_text}",
            "Latency SLI: share of requests that finished within the SLO latency over the time "
            f"range. A {SLO.percentile_label} under the SLO means this stays at or above "
            f"{SLO.latency_percentile * 100:.0f} %.",
            [
                prom(
                    f"sum by (job) (rate({HTTP_DURATION}_bucket"
                    f'{{{sel}, le="{SLO.latency_seconds}"}}[$__range]))'
                    f" / sum by (job) (rate({HTTP_DURATION}_count{{{sel}}}[$__range]))",
                    "{{job}}",
                )
            ],
            unit="percentunit",
            decimals=1,
            thresholds=steps(("red", None), ("green", SLO.latency_percentile)),
        ),
        w=6,
    )
    alerts = SLO.burn_rate_alerts
    long_windows = " and ".join(spaced(alert.long_window) for alert in alerts)
    fire_above = " and ".join(
        f"{alert.factor:g} ({spaced(alert.long_window)} and {spaced(alert.short_window)})"
        for alert in alerts
    )
    alert_lines = sorted(
        ((SEVERITY_COLOURS[a.severity], a.factor) for a in alerts), key=lambda step: step[1]
    )
    d.add(
        timeseries(
            "Error budget burn rate",
            f"How fast the error budget is spent (1 = exactly at the SLO) over {long_windows}, "
            f"from the recording rules. The alerts fire above {fire_above}.",
            [
                prom(
                    f"namespace_job:sandbox_http_errors:ratio_rate{alert.long_window}{{{sel}}}"
                    f" / {SLO.error_budget}",
                    f"{{{{job}}}} {alert.long_window}",
                )
                for alert in alerts
            ],
            unit="suffix:x",
            thresholds=steps(("green", None), *alert_lines),
            show_thresholds=True,
        ),
        w=12,
    )
    d.add(
        stat(
            "Alerts firing",
            "Number of sandbox alerts Prometheus is firing in this namespace (rules in "
            "observability/prometheus/rules). 0 when everything is healthy.",
            [prom(f'sum(ALERTS{{{NS}, alertstate="firing"}}) or vector(0)', "firing")],
            unit="none",
            thresholds=steps(("green", None), ("red", 1)),
        ),
        w=4,
    )
    d.add(
        stat(
            "Targets up",
            "Whether Prometheus can scrape each process (the up metric). DOWN means the process "
            "is not running or not answering on /metrics.",
            [prom(f'up{{{NS}, job=~"{ALL_JOBS}"}}', "{{job}}")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=8,
    )

    d.row("Rate, errors, duration")
    d.add(
        timeseries(
            "Request rate",
            "Requests per second served by each service, every route and status included.",
            [prom(f"sum by (job) ({http(sel)})", "{{job}}")],
            unit="reqps",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Server error ratio (5xx)",
            "Share of requests answered with a 5xx. The dashed lines are the error budget "
            f"({SLO.error_budget:.1%}) and 5 %.",
            [prom(ratio_or_zero("job", http(sel + ', status_class="5xx"'), http(sel)), "{{job}}")],
            unit="percentunit",
            thresholds=ERROR_RATIO,
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Client error ratio (4xx)",
            "Share of requests answered with a 4xx: validation errors, missing tokens, unknown "
            "ids. Not part of the SLO, but a jump usually means a broken client or load test.",
            [prom(ratio_or_zero("job", http(sel + ', status_class="4xx"'), http(sel)), "{{job}}")],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.1), ("red", 0.5)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            f"{SLO.percentile_label} latency",
            f"{SLO.percentile_text} of request duration per service. The SLO is "
            f"{SLO.latency_text} (dashed red line).",
            [prom(quantile(SLO.latency_percentile, HTTP_DURATION, sel, "job"), "{{job}}")],
            unit="s",
            thresholds=LATENCY,
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "p99 latency",
            "99th percentile of request duration per service: the slowest 1 % of requests.",
            [prom(quantile(0.99, HTTP_DURATION, sel, "job"), "{{job}}")],
            unit="s",
            thresholds=steps(("green", None), ("red", 1)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Requests in flight",
            "Requests being handled right now. Growing while the rate stays flat means requests "
            "are queueing (pool exhaustion, slow dependency).",
            [prom(f"sum by (job) (sandbox_http_requests_in_flight{{{sel}}})", "{{job}}")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 20), ("red", 50)),
            show_thresholds=True,
        ),
        w=8,
    )

    d.row("Routes and versions")
    d.add(
        bargauge(
            "Busiest routes",
            "The ten route templates with the most requests per second right now.",
            [
                prom(
                    f"topk(10, sum by (job, method, route) ({http(sel)}))",
                    "{{job}} {{method}} {{route}}",
                    instant=True,
                )
            ],
            unit="reqps",
            thresholds=NEUTRAL,
        ),
        w=12,
        h=9,
    )
    d.add(
        bargauge(
            "Slowest routes (p95)",
            "The ten route templates with the highest p95 duration right now.",
            [
                prom(
                    "topk(10, " + quantile(0.95, HTTP_DURATION, sel, "job, method, route") + ")",
                    "{{job}} {{method}} {{route}}",
                    instant=True,
                )
            ],
            unit="s",
            thresholds=LATENCY,
        ),
        w=12,
        h=9,
    )
    d.add(
        table(
            "Running versions",
            "sandbox_build_info of every process: component, version and Python version.",
            [prom(f'sandbox_build_info{{{NS}, job=~"{ALL_JOBS}"}}', instant=True, table=True)],
            hide=["Time", "Value", "__name__"],
        ),
        w=24,
        h=6,
    )
    return d
