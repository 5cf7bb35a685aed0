"""Sandbox / Catalog service: products, the Redis cache and the outbox."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import timeseries
from .lib.promql import NS, RI, ratio_or_zero
from .lib.targets import prom
from .lib.thresholds import steps
from .sections import (
    http_service_rows,
    jwks_panels,
    log_panels,
    outbox_panels,
    pool_panels,
    service_dashboard,
)


def build() -> Dashboard:
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
