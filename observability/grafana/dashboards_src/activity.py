"""Sandbox / Activity service: events, feeds and calls to the catalog."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import timeseries
from .lib.promql import NS, RI, dependency, quantile, ratio_or_zero
from .lib.targets import prom
from .lib.thresholds import steps
from .sections import http_service_rows, jwks_panels, log_panels, service_dashboard


def build() -> Dashboard:
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
