"""The platform's values and manifests: pinned versions, the settings the
issue asks for, and objects valid against their schemas."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.deploy.conftest import ROOT

PLATFORM = ROOT / "deploy" / "platform"
MK = (ROOT / "deploy" / "deploy.mk").read_text()


def test_chart_versions_are_pinned() -> None:
    for var in (
        "KPS_VERSION",
        "ECK_OPERATOR_VERSION",
        "ECK_STACK_VERSION",
        "FLUENT_BIT_VERSION",
        "ENVOY_GATEWAY_VERSION",
        "METRICS_SERVER_VERSION",
        "KIND_VERSION",
        "HELM_VERSION",
    ):
        match = re.search(rf"^{var} \?= (\S+)$", MK, re.M)
        assert match, var
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", match.group(1)), var
    up = (ROOT / "deploy/scripts/up.sh").read_text()
    assert up.count("--version") >= 1
    assert "helm_up" in up


def test_kind_config_maps_the_gateway_to_localhost() -> None:
    config = yaml.safe_load((ROOT / "deploy/k8s/kind-config.yaml").read_text())
    (node,) = config["nodes"]
    assert "@sha256:" in node["image"]
    (mapping,) = node["extraPortMappings"]
    assert mapping["containerPort"] == 30080
    assert mapping["listenAddress"] == "127.0.0.1"
    gateway = list(yaml.safe_load_all((PLATFORM / "gateway.yaml").read_text()))
    proxy = next(d for d in gateway if d["kind"] == "EnvoyProxy")
    ports = proxy["spec"]["provider"]["kubernetes"]["envoyService"]["patch"]["value"]["spec"][
        "ports"
    ]
    assert ports[0]["nodePort"] == mapping["containerPort"]


def test_platform_objects_are_valid(tool_python: Path) -> None:
    files = [str(PLATFORM / f) for f in ("gateway.yaml", "grafana-route.yaml", "kibana-route.yaml")]
    result = subprocess.run(
        [str(tool_python), str(Path(__file__).parent / "validate_objects.py"), "1.37.0", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fluent_bit_writes_to_elasticsearch_8_and_later() -> None:
    values = yaml.safe_load((PLATFORM / "fluent-bit.yaml").read_text())
    output = values["config"]["outputs"]
    assert re.search(r"Suppress_Type_Name\s+On", output)
    assert re.search(r"Replace_Dots\s+On", output)
    assert "${ES_PASSWORD}" in output


def test_grafana_has_no_anonymous_admin_and_loads_our_dashboards() -> None:
    values = yaml.safe_load((PLATFORM / "kube-prometheus-stack.yaml").read_text())
    grafana = values["grafana"]
    assert "adminPassword" not in grafana
    assert grafana["grafana.ini"]["auth.anonymous"]["enabled"] is False
    dashboards = grafana["sidecar"]["dashboards"]
    assert (dashboards["label"], dashboards["labelValue"], dashboards["searchNamespace"]) == (
        "grafana_dashboard",
        "1",
        "ALL",
    )
    spec = values["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False
    logs = yaml.safe_load((PLATFORM / "kube-prometheus-stack-logs.yaml").read_text())
    (source,) = logs["grafana"]["additionalDataSources"]
    assert source["type"] == "elasticsearch"


def test_metrics_server_accepts_kind_kubelets() -> None:
    values = yaml.safe_load((PLATFORM / "metrics-server.yaml").read_text())
    assert "--kubelet-insecure-tls" in values["args"]


def test_help_lists_the_deploy_targets() -> None:
    for target in (
        "up",
        "down",
        "status",
        "logs",
        "grafana",
        "kibana",
        "images",
        "manifests",
        "deploy-check",
        "deploy-tools",
    ):
        assert re.search(rf"^{re.escape(target)}:.*## ", MK, re.M), target
    for reserved in ("test", "lint", "help", "loadtest"):
        assert not re.search(rf"^{reserved}:", MK, re.M)
    assert not re.search(r"^local-", MK, re.M)


def test_scripts_are_valid_bash() -> None:
    for script in sorted((ROOT / "deploy/scripts").glob("*.sh")) + sorted(
        (ROOT / "docker").rglob("*.sh")
    ):
        result = subprocess.run(
            ["bash", "-n", str(script)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{script}: {result.stderr}"
