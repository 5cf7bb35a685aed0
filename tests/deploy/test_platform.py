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


# The chart each pinned version is for, as up.sh's helm_up calls name it.
CHART_VERSIONS = {
    "metrics-server": "METRICS_SERVER_VERSION",
    "oci://docker.io/envoyproxy/gateway-helm": "ENVOY_GATEWAY_VERSION",
    "eck-operator": "ECK_OPERATOR_VERSION",
    "eck-stack": "ECK_STACK_VERSION",
    "kube-prometheus-stack": "KPS_VERSION",
    "fluent-bit": "FLUENT_BIT_VERSION",
}
UP = ROOT / "deploy" / "scripts" / "up.sh"


def test_chart_versions_are_pinned(tmp_path: Path) -> None:
    for var in (*CHART_VERSIONS.values(), "KIND_VERSION", "HELM_VERSION"):
        match = re.search(rf"^{var} \?= (\S+)$", MK, re.M)
        assert match, var
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", match.group(1)), var
    # make hands each chart's version to up.sh, and every helm_up call there
    # installs its chart at that version.
    for var in CHART_VERSIONS.values():
        assert f"{var}=$({var})" in MK, var
    calls = re.findall(r"^\s*helm_up \S+ \S+ (\S+) (\S+) ", UP.read_text(), re.M)
    assert sorted(calls) == sorted((chart, f'"${var}"') for chart, var in CHART_VERSIONS.items())
    # helm_up passes the version to helm (a stand-in that records its arguments).
    helm = tmp_path / "helm"
    helm.write_text(
        '#!/usr/bin/env bash\n[[ "$1" == template ]] || printf "%s\\n" "$@" > "$ARGS"\n'
    )
    helm.chmod(0o755)
    args = tmp_path / "args"
    result = subprocess.run(
        ["bash", "-c", f'source "{UP}"; helm_up kps monitoring kube-prometheus-stack 1.2.3 '
                       "https://charts.example values.yaml"],
        env={"PATH": "/usr/bin:/bin", "HELM": str(helm), "ARGS": str(args), "CLUSTER": "kind"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sent = args.read_text().splitlines()
    assert sent[:2] == ["upgrade", "--install"]
    assert "--version" in sent, sent
    assert sent[sent.index("--version") + 1] == "1.2.3"


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
