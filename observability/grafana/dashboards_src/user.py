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
    d.row("Password hashing")
    d.add(
        timeseries(
            "Password hashing slots",
            "Password hashes and checks running (at most the hashing concurrency, "
            "SANDBOX_PASSWORD_HASH_CONCURRENCY per process) and requests waiting for a slot. "
            "Waiting that stays high means logins and registrations outrun the cores.",
            [
                prom(f"sum(sandbox_password_hashing_in_progress{{{sel}}})", "running"),
                prom(f"sum(sandbox_password_hashing_waiting{{{sel}}})", "waiting"),
            ],
            unit="short",
        ),
        w=12,
    )
    d.add(
        timeseries(
            "Shed by password hashing",
            "Requests answered 503 with Retry-After because hashing was at its bounds: "
            "queue_full (no place to wait) or waited_too_long (no slot within "
            "SANDBOX_PASSWORD_HASH_MAX_WAIT_SECONDS). Shedding is cheap; queueing a hash for a "
            "client that has gone is not.",
            [
                prom(
                    f"sum by (reason) (rate(sandbox_password_hashing_shed_total{{{sel}}}[{RI}]))",
                    "{{reason}}",
                )
            ],
            unit="reqps",
            thresholds=steps(("green", None), ("red", 0.01)),
            stack=True,
        ),
        w=12,
    )
    log_panels(d, "user")
    return d
