"""deploy/bare/monitoring.py: the Prometheus resource the bare cluster gets is
the one kube-prometheus-stack renders from our values."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "bare"))
import monitoring  # noqa: E402  (deploy/bare/monitoring.py)

LISTING = "\n".join(
    [
        "PROMETHEUS=sandbox.local/standin/prometheus:v3.13.1",
        "PROMETHEUS_OPERATOR=sandbox.local/standin/prometheus-operator:v0.93.1",
        "PROMETHEUS_CONFIG_RELOADER=sandbox.local/standin/prometheus-config-reloader:v0.93.1",
    ]
)


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [m for m in monitoring.manifests(LISTING) if m["kind"] == kind]


def test_selectors_follow_the_charts_rules() -> None:
    # Given selector > NilUsesHelmValues (default true: release label) > everything.
    spec = {
        "serviceMonitorSelector": {"matchLabels": {"team": "a"}},
        "podMonitorSelectorNilUsesHelmValues": False,
        "ruleNamespaceSelector": {"matchLabels": {"x": "y"}},
    }
    selectors = monitoring.selectors(spec)
    assert selectors["serviceMonitorSelector"] == {"matchLabels": {"team": "a"}}
    assert selectors["podMonitorSelector"] == {}
    assert selectors["probeSelector"] == {"matchLabels": {"release": monitoring.RELEASE}}
    assert selectors["ruleNamespaceSelector"] == {"matchLabels": {"x": "y"}}
    assert selectors["serviceMonitorNamespaceSelector"] == {}


def test_our_values_select_the_sandbox_charts_unlabelled_objects() -> None:
    (prometheus,) = by_kind("Prometheus")
    spec = prometheus["spec"]
    values = yaml.safe_load(monitoring.KPS_VALUES.read_text())["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe"):
        assert spec[f"{kind}Selector"] == {}, kind
        assert spec[f"{kind}NamespaceSelector"] == {}, kind
    for key in ("scrapeInterval", "evaluationInterval", "retention", "retentionSize", "resources"):
        assert spec[key] == values[key], key
    assert spec["image"].endswith(":v3.13.1")
    assert spec["version"] == "v3.13.1"


def test_the_operator_runs_the_local_reloader_and_pulls_nothing() -> None:
    (deployment,) = by_kind("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["imagePullPolicy"] == "Never"
    assert (
        "--prometheus-config-reloader=sandbox.local/standin/prometheus-config-reloader:v0.93.1"
        in container["args"]
    )
    accounts = {m["metadata"]["name"] for m in by_kind("ServiceAccount")}
    assert accounts == {monitoring.OPERATOR, monitoring.PROMETHEUS}
