"""Sandbox / User service: accounts, logins and tokens."""

from __future__ import annotations

from .lib.layout import Dashboard
from .lib.panels import timeseries
from .lib.promql import NS, RI, ratio_or_zero
from .lib.targets import prom
from .lib.thresholds import steps
from .sections import http_service_rows, log_panels, pool_panels, service_dashboard


def build() -> Dashboard:
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
