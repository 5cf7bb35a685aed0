"""The Prometheus rules: promtool accepts them and their unit tests pass, they
use documented metrics, and every alert carries what a responder needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from obs_support import (
    RULE_TESTS,
    RULES,
    known_metrics,
    load_rule_files,
    measurements,
    metric_names,
    require_tool,
)

REQUIRED_ALERTS = {
    "SandboxServiceDown",
    "SandboxErrorRatioHigh",
    "SandboxLatencyP95High",
    "SandboxQueueBacklogGrowing",
    "SandboxOutboxStuck",
    "SandboxCacheFallbackHigh",
    "SandboxWorkerDown",
}


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    files = sorted(str(p) for p in RULES.glob("*.yml"))
    assert files
    result = run(promtool, "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests() -> None:
    promtool = require_tool("promtool")
    files = sorted(str(p) for p in RULE_TESTS.glob("*.test.yml"))
    assert files
    result = run(promtool, "test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_required_alert_exists_and_is_unit_tested() -> None:
    alerts = {rule["alert"] for rule in load_rule_files() if "alert" in rule}
    assert alerts >= REQUIRED_ALERTS
    tested = "".join(p.read_text() for p in RULE_TESTS.glob("*.test.yml"))
    untested = {a for a in alerts if f"alertname: {a}\n" not in tested}
    assert not untested, f"alerts without a firing case in {RULE_TESTS}: {untested}"


def test_alerts_carry_severity_summary_description_and_dashboard() -> None:
    for rule in load_rule_files():
        if "alert" not in rule:
            continue
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule.get("for"), f"{rule['alert']}: fires on a single evaluation"
        for key in ("summary", "description", "dashboard"):
            assert rule["annotations"].get(key), f"{rule['alert']}: no {key}"
        assert "namespace" in rule["annotations"]["description"] + rule["annotations"]["summary"]


def test_every_metric_in_a_rule_is_documented_or_recorded() -> None:
    known = known_metrics()
    unknown = {
        rule.get("alert") or rule["record"]: sorted(metric_names(rule["expr"]) - known)
        for rule in load_rule_files()
        if metric_names(rule["expr"]) - known
    }
    assert not unknown, unknown


def test_alert_measurements_have_no_comparison_left() -> None:
    """The live test evaluates these; a leftover comparison would empty them when healthy."""
    for rule in load_rule_files():
        if "alert" not in rule:
            continue
        inner = measurements(rule["expr"])
        assert inner, rule["alert"]
        for expr in inner:
            assert not any(op in expr for op in (" > ", " < ", "==", "!=", " >= ", " <= ")), expr


def test_measurements_split_alert_conditions() -> None:
    assert measurements('up{job="worker"} == 0\nor\nsandbox_celery_worker_up == 0') == [
        'up{job="worker"}',
        "sandbox_celery_worker_up",
    ]
    assert measurements("(time() - x) > 300 and y > (6 * 0.005)") == ["time() - x", "y"]
    assert measurements('absent(up{job="x", a=~"b|c"})') == ['up{job="x", a=~"b|c"}']
    assert measurements("(a or b * 0) / c") == ["(a or b * 0) / c"]
    assert measurements("max by (n) (a) unless on (n) max by (n) (b)") == [
        "max by (n) (a)",
        "max by (n) (b)",
    ]


def test_every_alert_measurement_is_valid_promql(tmp_path: Path) -> None:
    """What the live test queries must parse: promtool checks each as a recording rule."""
    promtool = require_tool("promtool")
    rules = [
        {"record": f"measurement:check:{index}", "expr": expr}
        for index, expr in enumerate(
            expr for rule in load_rule_files() if "alert" in rule
            for expr in measurements(rule["expr"])
        )
    ]  # fmt: skip
    path = tmp_path / "measurements.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "measurements", "rules": rules}]}))
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
