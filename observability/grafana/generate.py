#!/usr/bin/env python3
"""Writes the sandbox's Grafana dashboards to observability/grafana/dashboards/.

The JSON files are generated, committed and checked for drift by the tests:
edit this file, then run `make dashboards` (or `python3 generate.py`).
`--check` exits 1 when a committed file differs from what this would write.

Standard library only, so it runs before any virtualenv exists.

Every PromQL query is built on the metric names of docs/metrics.md, on the
exporters' own names (postgres_exporter, percona mongodb_exporter,
redis_exporter) and on the Locust exporter's `locust_*` names.

A panel whose data only exists in the cluster or during a Locust run starts
its description with a scope line, `Cluster only: <reason>` or
`Locust run only: <reason>`. That first line is the machine-readable marker
the tests read (see SCOPE_PREFIXES); Grafana shows it to people as well.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"

PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
ELASTICSEARCH = {"type": "elasticsearch", "uid": "elasticsearch"}

SCHEMA_VERSION = 39
SCOPE_PREFIXES = {"cluster": "Cluster only: ", "locust": "Locust run only: "}

HTTP_JOBS = "user|catalog|activity"
ALL_JOBS = "user|catalog|activity|worker|beat"

# Service-level objective shared by the overview, the rules and the load-test thresholds.
SLO_AVAILABILITY = 0.995
SLO_ERROR_BUDGET = round(1 - SLO_AVAILABILITY, 6)
SLO_LATENCY_SECONDS = 0.5

NS = 'namespace="$namespace"'
RI = "$__rate_interval"

Json = dict[str, Any]


# --- thresholds, targets, variables -------------------------------------------------------


def steps(*pairs: tuple[str, float | None]) -> Json:
    """Absolute thresholds; the first pair is the base colour (value None)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for color, value in pairs],
    }


NEUTRAL = steps(("green", None))
LATENCY = steps(
    ("green", None), ("orange", SLO_LATENCY_SECONDS * 0.8), ("red", SLO_LATENCY_SECONDS)
)
ERROR_RATIO = steps(("green", None), ("orange", SLO_ERROR_BUDGET), ("red", 0.05))
UP = steps(("red", None), ("green", 1))


def prom(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> Json:
    target: Json = {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": " ".join(expr.split()),
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if table:
        target["format"] = "table"
    return target


def es_logs(query: str) -> Json:
    return {
        "datasource": ELASTICSEARCH,
        "query": query,
        "alias": "",
        "metrics": [{"id": "1", "type": "logs"}],
        "bucketAggs": [],
        "timeField": "@timestamp",
    }


def es_count_by(query: str, term: str) -> Json:
    return {
        "datasource": ELASTICSEARCH,
        "query": query,
        "alias": "",
        "metrics": [{"id": "1", "type": "count"}],
        "bucketAggs": [
            {
                "id": "3",
                "type": "terms",
                "field": term,
                "settings": {
                    "min_doc_count": "1",
                    "order": "desc",
                    "orderBy": "_count",
                    "size": "10",
                },
            },
            {
                "id": "2",
                "type": "date_histogram",
                "field": "@timestamp",
                "settings": {"interval": "auto"},
            },
        ],
        "timeField": "@timestamp",
    }


def namespace_var() -> Json:
    query = f'label_values(up{{job=~"{ALL_JOBS}"}}, namespace)'
    return {
        "name": "namespace",
        "label": "Namespace",
        "description": 'Kubernetes namespace of the sandbox; "local" for make local-up.',
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": query,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
        "hide": 0,
        "regex": "",
        "current": {},
        "options": [],
    }


def service_query_var(jobs: str, metric: str = "up") -> Json:
    query = f'label_values({metric}{{{NS}, job=~"{jobs}"}}, job)'
    return {
        "name": "service",
        "label": "Service",
        "description": "Scrape job: user, catalog, activity, worker or beat.",
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": query,
        "query": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": jobs,
        "hide": 0,
        "regex": "",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }


def service_constant(job: str) -> Json:
    return {
        "name": "service",
        "label": "Service",
        "description": "The scrape job this dashboard is about.",
        "type": "constant",
        "query": job,
        "hide": 2,
        "current": {"text": job, "value": job},
        "options": [{"selected": True, "text": job, "value": job}],
    }


# --- panels and layout --------------------------------------------------------------------


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    tags: list[str]
    variables: list[Json]
    panels: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_height: int = 0

    def _next_id(self) -> int:
        return len(self.panels) + 1

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append(
            {
                "id": self._next_id(),
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self._y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        self._y += 1

    def _newline(self) -> None:
        if self._x:
            self._y += self._row_height
            self._x = 0
            self._row_height = 0

    def add(self, panel: Json, w: int = 12, h: int = 8) -> None:
        if self._x + w > 24:
            self._newline()
        panel = {
            "id": self._next_id(),
            **panel,
            "gridPos": {"x": self._x, "y": self._y, "w": w, "h": h},
        }
        for index, target in enumerate(panel.get("targets", [])):
            target["refId"] = chr(ord("A") + index)
        self.panels.append(panel)
        self._x += w
        self._row_height = max(self._row_height, h)

    def render(self) -> Json:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["sandbox", *self.tags],
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "timezone": "browser",
            "refresh": "10s",
            "time": {"from": "now-30m", "to": "now"},
            "timepicker": {},
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "links": [
                {
                    "title": "Sandbox dashboards",
                    "type": "dashboards",
                    "tags": ["sandbox"],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "icon": "external link",
                    "targetBlank": False,
                    "tooltip": "",
                    "url": "",
                }
            ],
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def _describe(description: str, scope: str | None, reason: str | None) -> str:
    if scope is None:
        return description
    if not reason:
        raise ValueError("a scoped panel needs the reason it is scoped")
    return f"{SCOPE_PREFIXES[scope]}{reason}\n\n{description}"


def timeseries(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    thresholds: Json = NEUTRAL,
    show_thresholds: bool = False,
    stack: bool = False,
    minimum: float | None = 0,
    maximum: float | None = None,
    scope: str | None = None,
    reason: str | None = None,
    datasource: Json = PROMETHEUS,
) -> Json:
    defaults: Json = {
        "unit": unit,
        "thresholds": thresholds,
        "color": {"mode": "palette-classic"},
        "custom": {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 20 if stack else 8,
            "gradientMode": "none",
            "showPoints": "never",
            "spanNulls": False,
            "axisPlacement": "auto",
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            "thresholdsStyle": {"mode": "dashed" if show_thresholds else "off"},
        },
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "type": "timeseries",
        "title": title,
        "description": _describe(description, scope, reason),
        "datasource": datasource,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "displayMode": "list",
                "placement": "bottom",
                "showLegend": True,
                "calcs": [],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets,
    }


def stat(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    thresholds: Json,
    mappings: list[Json] | None = None,
    decimals: int | None = None,
    scope: str | None = None,
    reason: str | None = None,
) -> Json:
    defaults: Json = {
        "unit": unit,
        "thresholds": thresholds,
        "color": {"mode": "thresholds"},
        "mappings": mappings or [],
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    return {
        "type": "stat",
        "title": title,
        "description": _describe(description, scope, reason),
        "datasource": PROMETHEUS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        "targets": targets,
    }


def bargauge(
    title: str,
    description: str,
    targets: list[Json],
    *,
    unit: str,
    thresholds: Json,
    scope: str | None = None,
    reason: str | None = None,
) -> Json:
    return {
        "type": "bargauge",
        "title": title,
        "description": _describe(description, scope, reason),
        "datasource": PROMETHEUS,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": thresholds,
                "color": {"mode": "thresholds"},
                "min": 0,
            },
            "overrides": [],
        },
        "options": {
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        "targets": targets,
    }


def table(title: str, description: str, targets: list[Json], *, hide: list[str]) -> Json:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "fieldConfig": {
            "defaults": {"unit": "none", "thresholds": NEUTRAL, "custom": {"align": "auto"}},
            "overrides": [],
        },
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}
        ],
        "targets": targets,
    }


def logs(title: str, description: str, query: str, *, reason: str) -> Json:
    return {
        "type": "logs",
        "title": title,
        "description": _describe(description, "cluster", reason),
        "datasource": ELASTICSEARCH,
        "options": {
            "showTime": True,
            "wrapLogMessage": True,
            "sortOrder": "Descending",
            "enableLogDetails": True,
            "dedupStrategy": "none",
            "prettifyLogMessage": False,
        },
        "targets": [es_logs(query)],
    }


UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]

# --- PromQL building blocks ---------------------------------------------------------------


def http(matchers: str, window: str = RI) -> str:
    return f"rate(sandbox_http_requests_total{{{matchers}}}[{window}])"


def ratio_or_zero(by: str, part: str, whole: str) -> str:
    """`part / whole`, 0 instead of no series while `part` has never been counted.

    A labelled counter has no series until its first increment, so a plain ratio
    of 5xx to all requests shows "No data" on a healthy system. Falling back to
    `whole * 0` keeps the ratio at 0 with the same labels.
    """
    agg = f"sum by ({by})" if by else "sum"
    return f"(({agg} ({part}) or {agg} ({whole}) * 0) / {agg} ({whole}))"


def dependency(matchers: str) -> str:
    return f"rate(sandbox_dependency_requests_total{{{matchers}}}[{RI}])"


def quantile(q: float, metric: str, matchers: str, by: str, window: str = RI) -> str:
    by_le = f"{by}, le" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({by_le}) (rate({metric}_bucket{{{matchers}}}[{window}])))"
    )


# --- dashboards ---------------------------------------------------------------------------


def overview() -> Dashboard:
    d = Dashboard(
        uid="sandbox-overview",
        title="Sandbox / Overview",
        description="RED metrics of every service and the error budget of the sandbox SLO.",
        tags=["overview"],
        variables=[namespace_var(), service_query_var(HTTP_JOBS)],
    )
    sel = f'{NS}, job=~"$service"'
    d.row(
        f"SLO: {SLO_AVAILABILITY:.1%} of requests without a 5xx, "
        f"p95 under {SLO_LATENCY_SECONDS * 1000:.0f} ms"
    )
    d.add(
        stat(
            "Availability over the time range",
            "Share of requests answered without a 5xx during the dashboard's time range, per "
            f"service. The SLO is {SLO_AVAILABILITY:.1%}; red below it.",
            [
                prom(
                    "1 - "
                    + ratio_or_zero(
                        "job", http(sel + ', status_class="5xx"', "$__range"), http(sel, "$__range")
                    ),
                    "{{job}}",
                )
            ],
            unit="percentunit",
            decimals=2,
            thresholds=steps(("red", None), ("green", SLO_AVAILABILITY)),
        ),
        w=6,
    )
    d.add(
        stat(
            "Error budget remaining",
            f"How much of the {SLO_ERROR_BUDGET:.1%} error budget the time range has left: 100 % "
            "means no 5xx at all, 0 % means the SLO is exactly met, below 0 it is missed.",
            [
                prom(
                    "1 - "
                    + ratio_or_zero(
                        "job", http(sel + ', status_class="5xx"', "$__range"), http(sel, "$__range")
                    )
                    + f" / {SLO_ERROR_BUDGET}",
                    "{{job}}",
                )
            ],
            unit="percentunit",
            decimals=1,
            thresholds=steps(("red", None), ("orange", 0), ("green", 0.25)),
        ),
        w=6,
    )
    d.add(
        stat(
            "p95 latency over the time range",
            f"95th percentile of server-side request duration over the time range. The SLO is "
            f"{SLO_LATENCY_SECONDS * 1000:.0f} ms: orange from 80 % of it, red above it.",
            [
                prom(
                    "histogram_quantile(0.95, sum by (job, le) "
                    f"(rate(sandbox_http_request_duration_seconds_bucket{{{sel}}}[$__range])))",
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
            f"Requests faster than {SLO_LATENCY_SECONDS * 1000:.0f} ms",
            "Latency SLI: share of requests that finished within the SLO latency over the time "
            "range. A p95 under the SLO means this stays at or above 95 %.",
            [
                prom(
                    "sum by (job) (rate(sandbox_http_request_duration_seconds_bucket"
                    f'{{{sel}, le="{SLO_LATENCY_SECONDS}"}}[$__range]))'
                    " / sum by (job) (rate(sandbox_http_request_duration_seconds_count"
                    f"{{{sel}}}[$__range]))",
                    "{{job}}",
                )
            ],
            unit="percentunit",
            decimals=1,
            thresholds=steps(("red", None), ("green", 0.95)),
        ),
        w=6,
    )
    d.add(
        timeseries(
            "Error budget burn rate",
            "How fast the error budget is spent (1 = exactly at the SLO) over 1 h and 6 h, from "
            "the recording rules. The alerts fire above 14.4 (1 h and 5 m) and 6 (6 h and 30 m).",
            [
                prom(
                    f"namespace_job:sandbox_http_errors:ratio_rate1h{{{sel}}} / {SLO_ERROR_BUDGET}",
                    "{{job}} 1h",
                ),
                prom(
                    f"namespace_job:sandbox_http_errors:ratio_rate6h{{{sel}}} / {SLO_ERROR_BUDGET}",
                    "{{job}} 6h",
                ),
            ],
            unit="suffix:x",
            thresholds=steps(("green", None), ("orange", 6), ("red", 14.4)),
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
            f"({SLO_ERROR_BUDGET:.1%}) and 5 %.",
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
            "p95 latency",
            f"95th percentile of request duration per service. The SLO is "
            f"{SLO_LATENCY_SECONDS * 1000:.0f} ms (dashed red line).",
            [prom(quantile(0.95, "sandbox_http_request_duration_seconds", sel, "job"), "{{job}}")],
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
            [prom(quantile(0.99, "sandbox_http_request_duration_seconds", sel, "job"), "{{job}}")],
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
                    "topk(10, "
                    + quantile(
                        0.95, "sandbox_http_request_duration_seconds", sel, "job, method, route"
                    )
                    + ")",
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


ERRORS_4XX_5XX = ', status_class=~"4xx|5xx"'


def http_service_rows(d: Dashboard) -> None:
    """The RED rows every service dashboard starts with."""
    sel = f'{NS}, job="$service"'
    d.row("Rate, errors, duration")
    d.add(
        stat(
            "Up",
            "Whether Prometheus can scrape the service's /metrics.",
            [prom(f"up{{{sel}}}", "{{instance}}")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
        h=5,
    )
    d.add(
        stat(
            "Request rate",
            "Requests per second, all routes.",
            [prom(f"sum({http(sel)})", "req/s")],
            unit="reqps",
            thresholds=NEUTRAL,
        ),
        w=5,
        h=5,
    )
    d.add(
        stat(
            "5xx ratio",
            f"Share of requests answered with a 5xx; the SLO allows {SLO_ERROR_BUDGET:.1%}.",
            [prom(ratio_or_zero("", http(sel + ', status_class="5xx"'), http(sel)), "5xx")],
            unit="percentunit",
            decimals=2,
            thresholds=ERROR_RATIO,
        ),
        w=5,
        h=5,
    )
    d.add(
        stat(
            "p95 latency",
            f"95th percentile of request duration; the SLO is {SLO_LATENCY_SECONDS * 1000:.0f} ms.",
            [prom(quantile(0.95, "sandbox_http_request_duration_seconds", sel, ""), "p95")],
            unit="s",
            thresholds=LATENCY,
        ),
        w=5,
        h=5,
    )
    d.add(
        stat(
            "In flight",
            "Requests being handled right now.",
            [prom(f"sum(sandbox_http_requests_in_flight{{{sel}}})", "in flight")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 20), ("red", 50)),
        ),
        w=5,
        h=5,
    )
    d.add(
        timeseries(
            "Requests by route",
            "Requests per second per route template and method.",
            [prom(f"sum by (method, route) ({http(sel)})", "{{method}} {{route}}")],
            unit="reqps",
        )
    )
    d.add(
        timeseries(
            "Responses by status class",
            "Requests per second per status class, stacked.",
            [prom(f"sum by (status_class) ({http(sel)})", "{{status_class}}")],
            unit="reqps",
            stack=True,
        )
    )
    d.add(
        timeseries(
            "Latency percentiles",
            "p50, p95 and p99 of request duration over all routes. The dashed red line is the "
            "SLO latency.",
            [
                prom(
                    quantile(q, "sandbox_http_request_duration_seconds", sel, ""),
                    f"p{round(q * 100)}",
                )
                for q in (0.5, 0.95, 0.99)
            ],
            unit="s",
            thresholds=LATENCY,
            show_thresholds=True,
        )
    )
    d.add(
        timeseries(
            "p95 latency by route",
            "95th percentile of request duration per route template.",
            [
                prom(
                    quantile(0.95, "sandbox_http_request_duration_seconds", sel, "method, route"),
                    "{{method}} {{route}}",
                )
            ],
            unit="s",
            thresholds=LATENCY,
            show_thresholds=True,
        )
    )
    d.add(
        timeseries(
            "Errors by route",
            "4xx and 5xx per second per route: which endpoint fails, and whether it is the "
            "client's fault (4xx) or ours (5xx). <unmatched> counts requests to unknown paths.",
            [
                prom(
                    f"sum by (route, status_class) ({http(sel + ERRORS_4XX_5XX)})",
                    "{{status_class}} {{route}}",
                )
            ],
            unit="reqps",
        ),
        w=24,
    )


def pool_panels(d: Dashboard, matchers: str, *, width: int = 12) -> None:
    d.add(
        timeseries(
            "Database pool connections",
            "SQLAlchemy pool of each process: connections checked out (in_use) and idle. in_use "
            "stuck at the pool size while requests wait means the pool is too small or a query "
            "is slow.",
            [
                prom(
                    f"sum by (job, database, state) (sandbox_db_pool_connections{{{matchers}}})",
                    "{{job}} {{database}} {{state}}",
                )
            ],
            unit="short",
            stack=True,
        ),
        w=width,
    )
    d.add(
        timeseries(
            "Requests waiting for a connection",
            "Requests blocked waiting for a pooled connection. Anything above 0 for long adds "
            "directly to latency.",
            [
                prom(
                    f"sum by (job, database) (sandbox_db_pool_waiting{{{matchers}}})",
                    "{{job}} {{database}}",
                )
            ],
            unit="short",
            thresholds=steps(("green", None), ("orange", 1), ("red", 5)),
            show_thresholds=True,
        ),
        w=width,
    )


def jwks_panels(d: Dashboard) -> None:
    sel = f'{NS}, job="$service"'
    d.add(
        timeseries(
            "JWKS refreshes",
            "Refreshes of the cached signing keys from the user service, by outcome. A refresh "
            "happens at start and when a token carries an unknown kid; a burst of errors means "
            "tokens cannot be verified.",
            [
                prom(
                    f"sum by (outcome) (increase(sandbox_jwks_refreshes_total{{{sel}}}[{RI}]))",
                    "{{outcome}}",
                )
            ],
            unit="short",
            thresholds=steps(("green", None), ("red", 1)),
        )
    )


def log_panels(d: Dashboard, job: str) -> None:
    reason = (
        "logs reach Elasticsearch through Fluent Bit in the cluster; "
        "the local stack has no Elasticsearch."
    )
    query = f'service.name:"{job}"'
    d.row("Logs")
    d.add(
        timeseries(
            "Log lines by level",
            f"Log lines per interval from the {job} service in sandbox-logs*, by log.level.",
            [es_count_by(query, "log.level")],
            unit="short",
            stack=True,
            scope="cluster",
            reason=reason,
            datasource=ELASTICSEARCH,
        ),
        w=8,
        h=10,
    )
    d.add(
        logs(
            "Warnings and errors",
            f"The latest warning and error lines of the {job} service; open one to see its "
            "request_id, then search that id in Kibana to follow the request across services.",
            f'{query} AND log.level:("warning" OR "error" OR "critical")',
            reason=reason,
        ),
        w=16,
        h=10,
    )


def service_dashboard(job: str, title: str, what: str) -> Dashboard:
    return Dashboard(
        uid=f"sandbox-{job}",
        title=f"Sandbox / {title}",
        description=what,
        tags=["service", job],
        variables=[namespace_var(), service_constant(job)],
    )


def user_dashboard() -> Dashboard:
    d = service_dashboard(
        "user",
        "User service",
        "Accounts, logins and tokens: HTTP RED, pool, registrations and logins.",
    )
    http_service_rows(d)
    sel = f'{NS}, job="$service"'
    d.row("PostgreSQL pool")
    pool_panels(d, sel)
    d.row("Accounts and logins")
    d.add(
        timeseries(
            "Registrations",
            "New accounts per second.",
            [prom(f"sum(rate(sandbox_registrations_total{{{sel}}}[{RI}]))", "registrations")],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Logins by outcome",
            "Password logins per second: success, failure (wrong password or unknown email) and "
            "throttled (429 after repeated failures).",
            [prom(f"sum by (outcome) (rate(sandbox_logins_total{{{sel}}}[{RI}]))", "{{outcome}}")],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Failed login ratio",
            "Share of logins that did not succeed (failure or throttled). A sudden rise with a "
            "flat user count looks like credential stuffing.",
            [
                prom(
                    ratio_or_zero(
                        "",
                        f'rate(sandbox_logins_total{{{sel}, outcome!="success"}}[{RI}])',
                        f"rate(sandbox_logins_total{{{sel}}}[{RI}])",
                    ),
                    "failed",
                )
            ],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.2), ("red", 0.5)),
            show_thresholds=True,
        ),
        w=8,
    )
    log_panels(d, "user")
    return d


def catalog_dashboard() -> Dashboard:
    d = service_dashboard(
        "catalog",
        "Catalog service",
        "Categories and products: HTTP RED, pool, Redis cache, outbox and product writes.",
    )
    http_service_rows(d)
    sel = f'{NS}, job="$service"'
    d.row("PostgreSQL pool and Redis cache")
    pool_panels(d, sel, width=8)
    d.add(
        timeseries(
            "Cache hit ratio",
            "Share of product cache lookups answered from Redis. Low right after a write or a "
            "restart, then it should climb.",
            [
                prom(
                    ratio_or_zero(
                        "cache",
                        f'rate(sandbox_cache_requests_total{{{sel}, result="hit"}}[{RI}])',
                        f"rate(sandbox_cache_requests_total{{{sel}}}[{RI}])",
                    ),
                    "{{cache}}",
                )
            ],
            unit="percentunit",
            maximum=1,
            thresholds=steps(("red", None), ("orange", 0.5), ("green", 0.8)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Cache lookups by result",
            "Cache lookups per second: hit, miss, error (Redis failed).",
            [
                prom(
                    f"sum by (cache, result) (rate(sandbox_cache_requests_total{{{sel}}}[{RI}]))",
                    "{{cache}} {{result}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Reads served by the database fallback",
            "Reads answered from PostgreSQL because Redis failed. Should be 0; while Redis is "
            "down the service keeps answering 200 through this path.",
            [
                prom(
                    f"sum by (cache) (rate(sandbox_cache_fallbacks_total{{{sel}}}[{RI}])) "
                    f"or sum by (cache) (rate(sandbox_cache_requests_total{{{sel}}}[{RI}])) * 0",
                    "{{cache}}",
                )
            ],
            unit="ops",
            thresholds=steps(("green", None), ("red", 0.1)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.row("Product writes and the outbox")
    d.add(
        timeseries(
            "Product writes",
            "Product creates, updates and deletes per second (admin only).",
            [
                prom(
                    f"sum by (operation) (rate(sandbox_products_written_total{{{sel}}}[{RI}]))",
                    "{{operation}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    outbox_panels(d)
    d.row("Token verification")
    jwks_panels(d)
    d.add(
        timeseries(
            "Calls to the user service (JWKS)",
            "Requests the catalog makes to the user service's JWKS endpoint, by outcome.",
            [
                prom(
                    "sum by (outcome) (rate(sandbox_dependency_requests_total"
                    f'{{{sel}, target="user-jwks"}}[{RI}]))',
                    "{{outcome}}",
                )
            ],
            unit="reqps",
        )
    )
    log_panels(d, "catalog")
    return d


def outbox_panels(d: Dashboard, width: int = 8) -> None:
    # Each service with a database has an outbox (label `outbox`); the worker relays them.
    d.add(
        timeseries(
            "Outbox backlog",
            "Events and tasks committed with the change that causes them but not yet handed "
            "to Celery, per outbox (catalog, user). It should drain to 0 within a few relay "
            "runs.",
            [prom(f"max by (outbox) (sandbox_outbox_backlog{{{NS}}})", "{{outbox}}")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 100), ("red", 1000)),
            show_thresholds=True,
        ),
        w=width,
    )
    d.add(
        timeseries(
            "Oldest unsent outbox event",
            "Age of the oldest unsent outbox row (0 when empty). The OutboxStuck alert fires "
            "above 5 minutes.",
            [prom(f"max by (outbox) (sandbox_outbox_oldest_age_seconds{{{NS}}})", "{{outbox}}")],
            unit="s",
            thresholds=steps(("green", None), ("orange", 60), ("red", 300)),
            show_thresholds=True,
        ),
        w=width,
    )


def activity_dashboard() -> Dashboard:
    d = service_dashboard(
        "activity",
        "Activity service",
        "Events, feeds, stats and trending: HTTP RED, calls to the catalog and event ingestion.",
    )
    http_service_rows(d)
    d.row("Calls to the catalog")
    dep = f'{NS}, target="catalog"'
    d.add(
        timeseries(
            "Catalog calls by outcome",
            "Requests to the catalog for trending product names, by outcome. Timeouts and "
            "errors make trending answer with degraded: true.",
            [
                prom(
                    f"sum by (job, outcome) ({dependency(dep)})",
                    "{{job}} {{outcome}}",
                )
            ],
            unit="reqps",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Catalog call failure ratio",
            "Share of catalog calls that ended in an error or a timeout.",
            [
                prom(
                    ratio_or_zero(
                        "job",
                        dependency(dep + ', outcome!="success"'),
                        dependency(dep),
                    ),
                    "{{job}}",
                )
            ],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.05), ("red", 0.2)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Catalog call p95 duration",
            "95th percentile of one catalog call. The client times out at "
            "SANDBOX_CATALOG_TIMEOUT_SECONDS (0.5 s by default).",
            [
                prom(
                    quantile(0.95, "sandbox_dependency_request_duration_seconds", dep, "job"),
                    "{{job}}",
                )
            ],
            unit="s",
            thresholds=steps(("green", None), ("orange", 0.25), ("red", 0.5)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.row("Events")
    d.add(
        timeseries(
            "Events ingested by type",
            "Activity events stored per second, by type, whether posted to the API or "
            "delivered by a Celery task.",
            [
                prom(
                    f"sum by (type) (rate(sandbox_events_ingested_total{{{NS}}}[{RI}]))", "{{type}}"
                )
            ],
            unit="ops",
            stack=True,
        )
    )
    d.add(
        timeseries(
            "Events ingested by source",
            "api: POST /api/v1/activity/events; task: events relayed from the user and catalog "
            "services through Celery.",
            [
                prom(
                    f"sum by (source) (rate(sandbox_events_ingested_total{{{NS}}}[{RI}]))",
                    "{{source}}",
                )
            ],
            unit="ops",
            stack=True,
        )
    )
    d.row("Token verification")
    jwks_panels(d)
    log_panels(d, "activity")
    return d


def celery_dashboard() -> Dashboard:
    d = Dashboard(
        uid="sandbox-celery",
        title="Sandbox / Celery and queues",
        description="Worker and beat: queues, task throughput, failures, retries, durations.",
        tags=["celery"],
        variables=[namespace_var(), service_query_var("worker|beat")],
    )
    sel = f'{NS}, job=~"$service"'
    tasks = f"sandbox_celery_tasks_total{{{sel}"
    d.row("Processes")
    d.add(
        stat(
            "Worker consuming",
            "1 while the worker process consumes from its queues (sandbox_celery_worker_up).",
            [
                prom(
                    f'max by (instance) (sandbox_celery_worker_up{{{NS}, job="worker"}})',
                    "{{instance}}",
                )
            ],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Scrape targets up",
            "Whether Prometheus can scrape the worker and beat.",
            [prom(f"up{{{sel}}}", "{{job}}")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Since beat's last tick",
            "Seconds since Celery beat last woke up to send due tasks. Trending and the outbox "
            "relay stop when beat stops; the BeatDown alert fires above 5 minutes.",
            [
                prom(
                    "time() - max(sandbox_celery_beat_last_tick_timestamp_seconds"
                    f'{{{NS}, job="beat"}})',
                    "beat",
                )
            ],
            unit="s",
            thresholds=steps(("green", None), ("orange", 60), ("red", 300)),
        ),
        w=6,
        h=5,
    )
    d.add(
        stat(
            "Tasks waiting",
            "Messages waiting in all Celery queues in Redis.",
            [prom(f"sum(max by (queue) (sandbox_celery_queue_length{{{NS}}}))", "waiting")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 50), ("red", 500)),
        ),
        w=6,
        h=5,
    )
    d.row("Queues")
    d.add(
        timeseries(
            "Queue length",
            "Messages waiting per queue (user, catalog, activity), read from the broker at "
            "scrape time. Steady growth means the worker cannot keep up.",
            [prom(f"max by (queue) (sandbox_celery_queue_length{{{NS}}})", "{{queue}}")],
            unit="short",
            thresholds=steps(("green", None), ("orange", 50), ("red", 500)),
            show_thresholds=True,
        )
    )
    d.add(
        timeseries(
            "Queue growth",
            "Per-second change of each queue's length over 5 minutes (positive: filling up). "
            "QueueBacklogGrowing fires when a queue above 50 keeps growing for 10 minutes.",
            [prom(f"max by (queue) (deriv(sandbox_celery_queue_length{{{NS}}}[5m]))", "{{queue}}")],
            unit="suffix: msg/s",
            minimum=None,
            thresholds=steps(("green", None), ("orange", 0.1)),
        )
    )
    d.row("Tasks")
    d.add(
        timeseries(
            "Tasks by state",
            "Task state changes per second: started, succeeded, failed, retried.",
            [prom(f"sum by (state) (rate({tasks}}}[{RI}]))", "{{state}}")],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Tasks started by task",
            "Task executions per second per task name.",
            [prom(f'sum by (task) (rate({tasks}, state="started"}}[{RI}]))', "{{task}}")],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Task failure ratio",
            "Share of task executions that failed for good (after their retries).",
            [
                prom(
                    ratio_or_zero(
                        "task",
                        f'rate({tasks}, state="failed"}}[{RI}])',
                        f'rate({tasks}, state="started"}}[{RI}])',
                    ),
                    "{{task}}",
                )
            ],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.01), ("red", 0.1)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Retries",
            "Retries per second per task: transient errors (a datastore or the catalog briefly "
            "unavailable) being absorbed.",
            [
                prom(
                    f'sum by (task) (rate({tasks}, state="retried"}}[{RI}])) '
                    f'or sum by (task) (rate({tasks}, state="started"}}[{RI}])) * 0',
                    "{{task}}",
                )
            ],
            unit="ops",
            thresholds=steps(("green", None), ("orange", 0.1)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Task p95 duration",
            "95th percentile of task run time per task.",
            [prom(quantile(0.95, "sandbox_celery_task_duration_seconds", sel, "task"), "{{task}}")],
            unit="s",
            thresholds=steps(("green", None), ("orange", 5), ("red", 30)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Events delivered by tasks",
            "Activity events stored by Celery tasks (source=task) per second, by type.",
            [
                prom(
                    "sum by (type) (rate(sandbox_events_ingested_total"
                    f'{{{NS}, source="task"}}[{RI}]))',
                    "{{type}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    d.row("Outbox")
    outbox_panels(d, width=12)
    return d


def datastores_dashboard() -> Dashboard:
    d = Dashboard(
        uid="sandbox-datastores",
        title="Sandbox / Datastores",
        description=(
            "PostgreSQL, MongoDB and Redis as their exporters see them (postgres_exporter, "
            "mongodb_exporter, redis_exporter: in the cluster beside each datastore, locally "
            "beside the local stack's), with the services' own pool and cache metrics."
        ),
        tags=["datastores"],
        variables=[namespace_var(), service_query_var("user|catalog|activity|worker")],
    )
    db = f'{NS}, datname=~"users|catalog"'
    app = f'{NS}, job=~"$service"'

    d.row("PostgreSQL")
    d.add(
        stat(
            "PostgreSQL up",
            "pg_up: whether the exporter can connect to PostgreSQL.",
            [prom(f"max(pg_up{{{NS}}})", "pg_up")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
    )
    d.add(
        stat(
            "Connection usage",
            "Server connections in use as a share of max_connections.",
            [
                prom(
                    f"sum(pg_stat_database_numbackends{{{NS}}})"
                    f" / max(pg_settings_max_connections{{{NS}}})",
                    "used",
                )
            ],
            unit="percentunit",
            thresholds=steps(("green", None), ("orange", 0.7), ("red", 0.9)),
        ),
        w=4,
    )
    d.add(
        timeseries(
            "Server connections by database",
            "Backends connected to each database (pg_stat_database_numbackends).",
            [
                prom(
                    f"sum by (datname) (pg_stat_database_numbackends{{{db}}})",
                    "{{datname}}",
                )
            ],
            unit="short",
            stack=True,
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Transactions",
            "Commits and rollbacks per second per database.",
            [
                prom(
                    f"sum by (datname) (rate(pg_stat_database_xact_commit{{{db}}}[{RI}]))",
                    "{{datname}} commit",
                ),
                prom(
                    f"sum by (datname) (rate(pg_stat_database_xact_rollback{{{db}}}[{RI}]))",
                    "{{datname}} rollback",
                ),
            ],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Buffer cache hit ratio",
            "Share of block reads served from PostgreSQL's shared buffers. Below 90 % the "
            "working set no longer fits in memory.",
            [
                prom(
                    f"sum by (datname) (rate(pg_stat_database_blks_hit{{{db}}}[{RI}])) / "
                    f"(sum by (datname) (rate(pg_stat_database_blks_hit{{{db}}}[{RI}])) + "
                    f"sum by (datname) (rate(pg_stat_database_blks_read{{{db}}}[{RI}])))",
                    "{{datname}}",
                )
            ],
            unit="percentunit",
            maximum=1,
            thresholds=steps(("red", None), ("orange", 0.9), ("green", 0.99)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Database size",
            "On-disk size of each sandbox database.",
            [
                prom(
                    f'max by (datname) (pg_database_size_bytes{{{NS}, datname=~"users|catalog"}})',
                    "{{datname}}",
                )
            ],
            unit="bytes",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Deadlocks",
            "Deadlocks detected per database over each interval.",
            [
                prom(
                    f"sum by (datname) (increase(pg_stat_database_deadlocks{{{db}}}[{RI}]))",
                    "{{datname}}",
                )
            ],
            unit="short",
            thresholds=steps(("green", None), ("red", 1)),
            show_thresholds=True,
        ),
        w=8,
    )
    d.row("Application pools (what the services see)")
    pool_panels(d, app)

    d.row("MongoDB")
    # dbStats and $collStats only: the collectors both MongoDB and FerretDB
    # (the local stack's) answer; serverStatus counters are MongoDB's alone.
    activity = f'{NS}, database="activity"'
    d.add(
        stat(
            "MongoDB up",
            "mongodb_up: whether the exporter can reach MongoDB.",
            [prom(f"max(mongodb_up{{{NS}}})", "mongodb_up")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
    )
    d.add(
        timeseries(
            "Documents by collection",
            "Documents in each collection of the activity database ($collStats count).",
            [
                prom(
                    f"sum by (collection) (mongodb_collstats_storageStats_count{{{activity}}})",
                    "{{collection}}",
                )
            ],
            unit="short",
        ),
        w=6,
    )
    d.add(
        timeseries(
            "Documents added per second",
            "Net change of each collection's document count (inserts minus retention's "
            "deletes), from $collStats.",
            [
                prom(
                    "sum by (collection) "
                    f"(deriv(mongodb_collstats_storageStats_count{{{activity}}}[5m]))",
                    "{{collection}}",
                )
            ],
            unit="ops",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Data and index size",
            "Size of the activity database's documents and indexes (dbStats dataSize, indexSize).",
            [
                prom(f"max(mongodb_dbstats_dataSize{{{activity}}})", "data"),
                prom(f"max(mongodb_dbstats_indexSize{{{activity}}})", "indexes"),
            ],
            unit="bytes",
        ),
        w=6,
    )

    d.row("Redis (cache and Celery broker)")
    d.add(
        stat(
            "Redis up",
            "redis_up: whether the exporter can reach Redis.",
            [prom(f"max(redis_up{{{NS}}})", "redis_up")],
            unit="none",
            thresholds=UP,
            mappings=UP_MAPPINGS,
        ),
        w=4,
    )
    d.add(
        timeseries(
            "Memory used",
            "Memory Redis uses, against maxmemory when one is set.",
            [
                prom(f"max(redis_memory_used_bytes{{{NS}}})", "used"),
                prom(f"max(redis_memory_max_bytes{{{NS}}}) > 0", "maxmemory"),
            ],
            unit="bytes",
        ),
        w=6,
    )
    d.add(
        timeseries(
            "Commands",
            "Commands processed per second.",
            [prom(f"sum(rate(redis_commands_processed_total{{{NS}}}[{RI}]))", "commands/s")],
            unit="ops",
        ),
        w=7,
    )
    d.add(
        timeseries(
            "Connected clients",
            "Client connections: the services, the worker, beat and the exporter.",
            [prom(f"sum(redis_connected_clients{{{NS}}})", "clients")],
            unit="short",
        ),
        w=7,
    )
    d.add(
        timeseries(
            "Keyspace hit ratio",
            "Share of key lookups that found a key, all clients together.",
            [
                prom(
                    f"sum(rate(redis_keyspace_hits_total{{{NS}}}[{RI}])) / "
                    f"(sum(rate(redis_keyspace_hits_total{{{NS}}}[{RI}])) + "
                    f"sum(rate(redis_keyspace_misses_total{{{NS}}}[{RI}])))",
                    "hit ratio",
                )
            ],
            unit="percentunit",
            maximum=1,
            thresholds=steps(("red", None), ("orange", 0.5), ("green", 0.8)),
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Keys and evictions",
            "Keys per database (db0 cache, db1 broker) and keys evicted per second.",
            [
                prom(f"sum by (db) (redis_db_keys{{{NS}}})", "{{db}} keys"),
                prom(f"sum(rate(redis_evicted_keys_total{{{NS}}}[{RI}]))", "evicted/s"),
            ],
            unit="short",
        ),
        w=8,
    )
    d.add(
        timeseries(
            "Product cache lookups (catalog's view)",
            "Cache lookups per second as the catalog counts them, by result. error rises when "
            "Redis is unreachable.",
            [
                prom(
                    f"sum by (result) (rate(sandbox_cache_requests_total{{{app}}}[{RI}]))",
                    "{{result}}",
                )
            ],
            unit="ops",
            stack=True,
        ),
        w=8,
    )
    return d


def loadtest_dashboard() -> Dashboard:
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
                prom(
                    quantile(0.95, "sandbox_http_request_duration_seconds", sel, ""), "services p95"
                ),
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
            [prom(quantile(0.95, "sandbox_http_request_duration_seconds", sel, "job"), "{{job}}")],
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


DASHBOARDS = {
    "overview.json": overview,
    "user.json": user_dashboard,
    "catalog.json": catalog_dashboard,
    "activity.json": activity_dashboard,
    "celery.json": celery_dashboard,
    "datastores.json": datastores_dashboard,
    "loadtest.json": loadtest_dashboard,
}


def render_all() -> dict[str, str]:
    return {
        name: json.dumps(build().render(), indent=2, ensure_ascii=False) + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a committed file is out of date"
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="directory to write (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    rendered = render_all()
    if args.check:
        stale = [
            name
            for name, text in rendered.items()
            if not (args.out / name).is_file()
            or (args.out / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in args.out.glob("*.json") if p.name not in rendered)
        for name in stale:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        for name in extra:
            print(
                f"not generated (remove it or add it to generate.py): {args.out / name}",
                file=sys.stderr,
            )
        if stale or extra:
            print("run: make dashboards", file=sys.stderr)
            return 1
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(rendered)} dashboards to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
