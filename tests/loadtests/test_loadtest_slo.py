"""The SLO gate: which group missed which limit, and by how much."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

LOADTESTS = Path(__file__).resolve().parents[2] / "loadtests"
sys.path.insert(0, str(LOADTESTS))
slo = importlib.import_module("slo")

DOC = {
    "min_samples_for_latency": 20,
    "defaults": {"p95_ms": 500, "max_error_ratio": 0.01},
    "groups": {
        "Aggregated": {"p95_ms": 300, "min_rps": 5},
        "GET /api/v1/products/{product_id}": {"p95_ms": 100},
        "POST /api/v1/auth/refresh": {"min_requests": 0},
    },
    "profiles": {
        "smoke": {
            "defaults": {"min_requests": 0},
            "groups": {"Aggregated": {"min_rps": 1}},
        }
    },
}


def result(group: str, requests: int = 100, failures: int = 0, p95: float = 50, rps: float = 10):
    return slo.GroupResult(group=group, requests=requests, failures=failures, p95_ms=p95, rps=rps)


def passing() -> list:
    return [
        result("GET /api/v1/products/{product_id}", p95=80),
        result("GET /api/v1/products", p95=200),
        result("Aggregated", requests=200, p95=150, rps=20),
    ]


def test_all_within_limits_passes():
    assert slo.evaluate(slo.parse_slo(DOC), passing()) == []


def test_listed_group_over_its_own_p95_is_named_with_the_excess():
    results = passing()
    results[0] = result("GET /api/v1/products/{product_id}", p95=130)
    [miss] = slo.evaluate(slo.parse_slo(DOC), results)
    assert (miss.group, miss.check, miss.actual, miss.limit) == (
        "GET /api/v1/products/{product_id}",
        "p95_ms",
        130,
        100,
    )
    assert "+30 ms" in miss.detail
    assert "30% over" in miss.detail


def test_unlisted_group_is_held_to_the_defaults():
    results = [*passing(), result("GET /api/v1/categories", p95=650)]
    [miss] = slo.evaluate(slo.parse_slo(DOC), results)
    assert miss.group == "GET /api/v1/categories"
    assert miss.limit == 500


def test_error_ratio_above_the_limit_fails_with_counts():
    results = [*passing(), result("GET /api/v1/products?q=", requests=200, failures=5)]
    [miss] = slo.evaluate(slo.parse_slo(DOC), results)
    assert miss.check == "max_error_ratio"
    assert miss.actual == pytest.approx(0.025)
    assert "5 of 200 failed" in miss.detail


def test_error_ratio_exactly_at_the_limit_passes():
    results = [*passing(), result("GET /api/v1/products?q=", requests=100, failures=1)]
    assert slo.evaluate(slo.parse_slo(DOC), results) == []


def test_throughput_below_the_minimum_fails():
    results = passing()
    results[-1] = result("Aggregated", requests=200, p95=150, rps=3.5)
    [miss] = slo.evaluate(slo.parse_slo(DOC), results)
    assert (miss.group, miss.check) == ("Aggregated", "min_rps")
    assert "-1.50 req/s" in miss.detail


def test_latency_of_a_handful_of_requests_is_not_gated_but_errors_are():
    few_slow = result("POST /api/v1/products", requests=5, p95=5000)
    assert slo.evaluate(slo.parse_slo(DOC), [*passing(), few_slow]) == []
    few_failed = result("POST /api/v1/products", requests=5, failures=1)
    [miss] = slo.evaluate(slo.parse_slo(DOC), [*passing(), few_failed])
    assert miss.check == "max_error_ratio"


def test_listed_group_that_never_ran_fails_unless_optional():
    results = [r for r in passing() if r.group != "GET /api/v1/products/{product_id}"]
    [miss] = slo.evaluate(slo.parse_slo(DOC), results)
    assert (miss.group, miss.check, miss.actual) == (
        "GET /api/v1/products/{product_id}",
        "min_requests",
        0,
    )
    # POST /api/v1/auth/refresh is listed with min_requests 0 and never ran: no miss.


def test_profile_overrides_only_what_it_names():
    smoke = slo.parse_slo(DOC, "smoke")
    assert smoke.groups["Aggregated"].min_rps == 1
    assert smoke.groups["Aggregated"].p95_ms == 300
    assert smoke.groups["GET /api/v1/products/{product_id}"].min_requests == 0
    results = [result("Aggregated", requests=30, p95=150, rps=1.2)]
    assert slo.evaluate(smoke, results) == []


def test_profile_defaults_override_every_group_and_its_groups_come_last():
    document = {
        **DOC,
        "profiles": {
            "loose": {
                "defaults": {"p95_ms": 2000},
                "groups": {"Aggregated": {"p95_ms": 900}, "GET /new": {"min_rps": 2}},
            }
        },
    }
    loose = slo.parse_slo(document, "loose")
    assert loose.groups["GET /api/v1/products/{product_id}"].p95_ms == 2000
    assert loose.groups["Aggregated"].p95_ms == 900
    assert loose.groups["Aggregated"].min_rps == 5
    assert loose.groups["GET /new"].min_rps == 2
    assert loose.limits_for("GET /unlisted").p95_ms == 2000
    # The default profile is untouched by any profile.
    assert slo.parse_slo(document).groups["GET /api/v1/products/{product_id}"].p95_ms == 100


def test_unknown_profile_and_unknown_key_are_refused():
    with pytest.raises(ValueError, match="unknown SLO profile"):
        slo.parse_slo(DOC, "nightly")
    with pytest.raises(ValueError, match="p99_ms"):
        slo.parse_slo({"groups": {"Aggregated": {"p99_ms": 10}}})


def test_results_are_read_from_locust_stats():
    def entry(method, name, requests, failures, p95, rps):
        return SimpleNamespace(
            method=method,
            name=name,
            num_requests=requests,
            num_failures=failures,
            total_rps=rps,
            get_response_time_percentile=lambda percent: p95 if percent == 0.95 else None,
        )

    stats = SimpleNamespace(
        entries={("/x", "GET"): entry("GET", "/x", 10, 1, 42, 2.0)},
        total=entry("", "Aggregated", 10, 1, 42, 2.0),
    )
    by_group = {r.group: r for r in slo.results_from_stats(stats)}
    assert by_group["GET /x"].error_ratio == pytest.approx(0.1)
    assert by_group["Aggregated"].p95_ms == 42


def test_report_marks_the_missing_group_and_states_the_verdict():
    thresholds = slo.parse_slo(DOC)
    results = passing()
    results[0] = result("GET /api/v1/products/{product_id}", p95=130)
    report = slo.render_report(thresholds, results, slo.evaluate(thresholds, results))
    miss_line = next(line for line in report.splitlines() if "{product_id}" in line)
    assert miss_line.startswith("MISS")
    assert "SLO gate FAILED: 1 miss(es)" in report
    assert slo.render_report(thresholds, passing(), []).endswith("SLO gate passed")


def test_the_shipped_thresholds_parse_in_every_profile():
    document = slo.yaml.safe_load((LOADTESTS / "slo.yaml").read_text())
    for profile in ["default", *document.get("profiles", {})]:
        thresholds = slo.parse_slo(document, profile)
        assert "Aggregated" in thresholds.groups


def test_each_shape_with_its_own_floor_scales_the_steady_floor_by_its_mean_users():
    """slo.yaml's spike and ramp profiles: the steady floor times the share of the
    users each shape runs on average (shapes.py), so a healthy stack passes a
    spike with the default users (measured: 2.73 req/s against a floor of 3)."""
    path = LOADTESTS / "slo.yaml"
    shapes = importlib.import_module("shapes")
    steady = slo.load_slo(path).groups["Aggregated"].min_rps
    assert {"spike", "ramp"} <= slo.profiles(path)
    for name in ("spike", "ramp"):
        params = shapes.shape_params(name, shapes.DEFAULT_USERS, 2, None)
        duration = params.duration
        mean = sum(shapes.SHAPES[name](t + 0.5, params)[0] for t in range(int(duration))) / duration
        floor = slo.load_slo(path, name).groups["Aggregated"].min_rps
        assert floor == pytest.approx(steady * mean / shapes.DEFAULT_USERS, abs=0.15), name
    measured = [result("Aggregated", requests=502, p95=40, rps=2.73)]
    misses = {v.group: v.check for v in slo.evaluate(slo.load_slo(path), measured)}
    assert misses.get("Aggregated") == "min_rps"
    assert "Aggregated" not in {
        v.group for v in slo.evaluate(slo.load_slo(path, "spike"), measured)
    }
