"""Label selectors and PromQL fragments the panels are built from.

Metric names are those of docs/metrics.md, the exporters' own
(postgres_exporter, percona mongodb_exporter, redis_exporter) and the Locust
exporter's `locust_*`.
"""

from __future__ import annotations

# Scrape jobs: the HTTP services, and every process.
HTTP_JOBS = "user|catalog|activity"
ALL_JOBS = "user|catalog|activity|worker|beat"

# The namespace selector every query carries, and Grafana's rate window.
NS = 'namespace="$namespace"'
RI = "$__rate_interval"

# The request-duration histogram; its buckets include the SLO latency bound.
HTTP_DURATION = "sandbox_http_request_duration_seconds"


def http(matchers: str, window: str = RI) -> str:
    """Per-second rate of the HTTP requests the selector matches."""
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
    """Per-second rate of the calls to other services the selector matches."""
    return f"rate(sandbox_dependency_requests_total{{{matchers}}}[{RI}])"


def quantile(q: float, metric: str, matchers: str, by: str, window: str = RI) -> str:
    """The `q` quantile of a histogram, per the `by` labels ("" for one series)."""
    by_le = f"{by}, le" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({by_le}) (rate({metric}_bucket{{{matchers}}}[{window}])))"
    )
