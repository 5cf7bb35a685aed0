"""One SLO: observability/slo.json. The dashboard generator reads it; the
Prometheus rules are static YAML, so these tests hold every number in them
that expresses the SLO to that file, and with it the request-duration
histogram's buckets and the load-test gate."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import yaml
from obs_support import OBS, ROOT, load_dashboards, load_rule_files, panel_queries
from prometheus_client.utils import floatToGoString

from sandbox_common import metrics

SLO_FILE = OBS / "slo.json"
LOADTEST_GATE = ROOT / "loadtests" / "slo.yaml"

SLO = json.loads(SLO_FILE.read_text())
ERROR_BUDGET = round(1 - SLO["availability"], 6)
LATENCY_SECONDS = SLO["latency"]["seconds"]
PERCENTILE = SLO["latency"]["percentile"]
BURN_RATE_ALERTS = {alert["alert"]: alert for alert in SLO["burn_rate_alerts"]}

ERROR_RATIO = "namespace_job:sandbox_http_errors:ratio_rate"
# `<ratio over a window> > (<factor> * <error budget>)`, the form of a burn-rate condition.
BURN_RATE_CONDITION = re.compile(rf"{ERROR_RATIO}(\w+)\s*>\s*\(\s*([\d.]+)\s*\*\s*([\d.]+)\s*\)")
P95_RECORD = "namespace_job:sandbox_http_request_duration_seconds:p95_rate5m"


def rules() -> dict[str, dict[str, Any]]:
    return {rule.get("alert") or rule["record"]: rule for rule in load_rule_files()}


def percent(ratio: float) -> str:
    """0.072 -> "7.2", as the alert descriptions write it before " %"."""
    return f"{round(ratio * 100, 6):g}"


def test_slo_file_is_complete_and_plausible() -> None:
    assert "tests/observability/test_slo_source.py" in SLO["description"]
    assert 0.9 <= SLO["availability"] < 1
    assert 0 < PERCENTILE < 1
    assert 0 < LATENCY_SECONDS < 10
    assert BURN_RATE_ALERTS
    for alert in BURN_RATE_ALERTS.values():
        assert alert["factor"] * ERROR_BUDGET < 1, alert["alert"]
        assert alert["severity"] in {"critical", "warning"}
        assert alert["long_window"] != alert["short_window"]


def test_every_burn_rate_alert_compares_against_the_slo_error_budget() -> None:
    burn_rate = {
        name: rule
        for name, rule in rules().items()
        if "alert" in rule and ERROR_RATIO in rule["expr"]
    }
    assert set(burn_rate) == set(BURN_RATE_ALERTS), "alerts on the 5xx ratio vs slo.json"
    for name, rule in burn_rate.items():
        expected = BURN_RATE_ALERTS[name]
        conditions = BURN_RATE_CONDITION.findall(rule["expr"])
        # Every use of the ratio is a `> (factor * budget)` condition: none precomputed.
        assert len(conditions) == rule["expr"].count(ERROR_RATIO), f"{name}: {rule['expr']}"
        windows = {window for window, _, _ in conditions}
        assert windows == {expected["long_window"], expected["short_window"]}, name
        for _, factor, budget in conditions:
            assert math.isclose(float(budget), ERROR_BUDGET), f"{name}: budget {budget}"
            assert math.isclose(float(factor), expected["factor"]), f"{name}: factor {factor}"
        assert rule["labels"]["severity"] == expected["severity"], name


def test_burn_rate_alert_descriptions_state_the_slo_numbers() -> None:
    for name, expected in BURN_RATE_ALERTS.items():
        description = rules()[name]["annotations"]["description"]
        threshold = percent(expected["factor"] * ERROR_BUDGET)
        assert f"above {threshold} %" in description, f"{name}: {description}"
        figures = set(re.findall(r"(\d+(?:\.\d+)?) %", description))
        assert figures <= {threshold, percent(SLO["availability"])}, f"{name}: {description}"


def test_latency_alert_and_recording_rule_use_the_slo_latency() -> None:
    p95 = rules()[P95_RECORD]
    assert p95["expr"].strip().startswith(f"histogram_quantile({PERCENTILE},"), p95["expr"]
    assert f"p{round(PERCENTILE * 100)}" in P95_RECORD
    latency_alerts = {
        name: rule
        for name, rule in rules().items()
        if "alert" in rule and "sandbox_http_request_duration_seconds" in rule["expr"]
    }
    assert latency_alerts
    for name, rule in latency_alerts.items():
        assert P95_RECORD in rule["expr"], name
        thresholds = re.findall(rf"{P95_RECORD}\s*>\s*([\d.]+)", rule["expr"])
        assert thresholds, f"{name}: {rule['expr']}"
        for threshold in thresholds:
            assert math.isclose(float(threshold), LATENCY_SECONDS), f"{name}: {threshold}"
        milliseconds = f"{LATENCY_SECONDS * 1000:.0f} ms"
        assert milliseconds in rule["annotations"]["description"], name


def test_every_latency_bucket_selector_is_the_slo_latency() -> None:
    """`le` is matched as a string: it must be written as the exporter writes it."""
    le = floatToGoString(LATENCY_SECONDS)  # type: ignore[no-untyped-call]
    in_rules = [
        value for rule in load_rule_files() for value in re.findall(r'le="([^"]*)"', rule["expr"])
    ]
    assert in_rules, "the latency SLI recording rule selects the SLO bucket"
    in_panels = [
        value for query in panel_queries() for value in re.findall(r'le="([^"]*)"', query.expr)
    ]
    assert in_panels, "the overview shows the latency SLI"
    assert set(in_rules) | set(in_panels) == {le}


def test_request_duration_buckets_contain_the_slo_latency() -> None:
    assert LATENCY_SECONDS in metrics.LATENCY_BUCKETS
    # prometheus_client keeps a histogram's bucket bounds there, +Inf last.
    assert LATENCY_SECONDS in metrics.HTTP_DURATION._upper_bounds


def test_loadtest_gate_is_not_looser_than_the_slo_latency() -> None:
    gate = yaml.safe_load(LOADTEST_GATE.read_text())
    assert PERCENTILE == 0.95, "the gate's p95_ms compares with a p95 SLO only"
    p95_ms = gate["groups"]["Aggregated"]["p95_ms"]
    assert p95_ms <= LATENCY_SECONDS * 1000, f"{LOADTEST_GATE}: Aggregated p95_ms {p95_ms}"


def test_the_dashboards_are_built_from_the_slo_file() -> None:
    overview = load_dashboards()["overview.json"]
    row = next(p for p in overview["panels"] if p["type"] == "row")
    assert f"{SLO['availability']:.1%}" in row["title"]
    assert f"{LATENCY_SECONDS * 1000:.0f} ms" in row["title"]
