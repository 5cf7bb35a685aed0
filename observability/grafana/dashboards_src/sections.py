"""Rows of panels that more than one dashboard shows, and the frame of a
service's own dashboard."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import logs, stat, timeseries
from .lib.promql import HTTP_DURATION, NS, RI, http, quantile, ratio_or_zero
from .lib.slo import SLO
from .lib.targets import ELASTICSEARCH, es_count_by, prom
from .lib.thresholds import ERROR_RATIO, LATENCY, NEUTRAL, UP, UP_MAPPINGS, steps
from .lib.variables import namespace_var, service_constant


def service_dashboard(job: str, title: str, what: str) -> Dashboard:
    """A service's own dashboard: `service` is fixed to its scrape job."""
    return Dashboard(
        uid=f"sandbox-{job}",
        title=f"Sandbox / {title}",
        description=what,
        tags=["service", job],
        variables=[namespace_var(), service_constant(job)],
    )


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
            f"Share of requests answered with a 5xx; the SLO allows {SLO.error_budget:.1%}.",
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
            f"{SLO.percentile_label} latency",
            f"{SLO.percentile_text} of request duration; the SLO is {SLO.latency_text}.",
            [
                prom(
                    quantile(SLO.latency_percentile, HTTP_DURATION, sel, ""),
                    SLO.percentile_label,
                )
            ],
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
                    quantile(q, HTTP_DURATION, sel, ""),
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
                    quantile(0.95, HTTP_DURATION, sel, "method, route"),
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
    """SQLAlchemy pool connections and waiting requests of the matched processes."""
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
    """Refreshes of the signing keys a service fetches from the user service."""
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
    """A Logs row from Elasticsearch: lines by level and the latest warnings and errors."""
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


def outbox_panels(d: Dashboard, width: int = 8) -> None:
    """Backlog and oldest unsent row of each outbox (label `outbox`: every service
    with a database has one; the worker relays them)."""
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
