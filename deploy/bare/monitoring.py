"""The monitoring `make up` installs with kube-prometheus-stack, for the bare
test cluster, which has no chart registry: the Prometheus Operator and one
Prometheus, as that chart makes them (release `kps` in namespace
`monitoring`), from the images deploy/bare/images.sh builds.

The Prometheus resource's selectors, intervals, retention and resources come
from our own values for the chart (deploy/platform/kube-prometheus-stack.yaml)
by the chart's rules (its templates/prometheus/prometheus.yaml), so a change
there changes what the cluster tests check. Grafana, Alertmanager (off in
those values), kube-state-metrics and node-exporter are not part of it: the
sandbox's dashboards and alerts read none of them.

    python deploy/bare/monitoring.py "$(bash deploy/bare/images.sh list)" | kubectl apply -f -
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
KPS_VALUES = ROOT / "deploy" / "platform" / "kube-prometheus-stack.yaml"
NAMESPACE = "monitoring"
RELEASE = "kps"
# kube-prometheus-stack.fullname for release `kps`, and the names it derives.
FULLNAME = f"{RELEASE}-kube-prometheus-stack"
PROMETHEUS = f"{FULLNAME}-prometheus"
OPERATOR = f"{FULLNAME}-operator"
PORT = 9090
# The chart's own defaults (values.yaml) where ours say nothing.
KPS_DEFAULTS: dict[str, Any] = {
    "replicas": 1,
    "portName": "http-web",
    "walCompression": True,
    "enableAdminAPI": False,
    "securityContext": {
        "fsGroup": 2000,
        "runAsGroup": 2000,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
SELECTED = ("serviceMonitor", "podMonitor", "probe", "rule", "scrapeConfig")


def selectors(spec: dict[str, Any]) -> dict[str, Any]:
    """What kube-prometheus-stack renders for each selector from its values: the
    selector when given; else, with `<kind>SelectorNilUsesHelmValues` (true by
    default), only the objects labelled `release: <release>`; else everything.
    Namespace selectors are everything unless given."""
    result: dict[str, Any] = {}
    for kind in SELECTED:
        given = spec.get(f"{kind}Selector")
        if given:
            result[f"{kind}Selector"] = given
        elif spec.get(f"{kind}SelectorNilUsesHelmValues", True):
            result[f"{kind}Selector"] = {"matchLabels": {"release": RELEASE}}
        else:
            result[f"{kind}Selector"] = {}
        result[f"{kind}NamespaceSelector"] = spec.get(f"{kind}NamespaceSelector") or {}
    return result


def prometheus_spec(values: dict[str, Any], image: str) -> dict[str, Any]:
    spec = values["prometheus"]["prometheusSpec"]
    tag = image.rsplit(":", 1)[1]
    result: dict[str, Any] = {
        **KPS_DEFAULTS,
        "image": image,
        "version": tag,
        "serviceAccountName": PROMETHEUS,
        "externalUrl": f"http://{PROMETHEUS}.{NAMESPACE}:{PORT}",
        **selectors(spec),
    }
    for key in ("scrapeInterval", "evaluationInterval", "retention", "retentionSize", "resources"):
        if key in spec:
            result[key] = spec[key]
    return result


def meta(name: str, app: str, namespace: str | None = NAMESPACE) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name,
        "labels": {"app": app, "release": RELEASE, "app.kubernetes.io/managed-by": "sandbox-bare"},
    }
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def cluster_role(name: str, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ClusterRole, its binding, and the namespace's ServiceAccount of that name."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, name)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": meta(name, name, None),
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": meta(name, name, None),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
        },
    ]


def rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


WATCH = ["get", "list", "watch"]


def operator(values: dict[str, Any], image: str, reloader: str) -> list[dict[str, Any]]:
    # The chart's ClusterRole for the operator (templates/prometheus-operator/).
    rules = [
        rule(["monitoring.coreos.com"], ["*"], ["*"]),
        rule(["apps"], ["statefulsets"], ["*"]),
        rule([""], ["configmaps", "secrets"], ["*"]),
        rule([""], ["pods"], ["list", "delete"]),
        rule([""], ["services", "services/finalizers", "endpoints"], ["get", "create", "update"]),
        rule([""], ["services", "endpoints"], ["delete"]),
        rule([""], ["nodes"], ["list", "watch"]),
        rule([""], ["namespaces"], WATCH),
        rule(["networking.k8s.io"], ["ingresses"], WATCH),
        rule(["discovery.k8s.io"], ["endpointslices"], WATCH),
        rule(["storage.k8s.io"], ["storageclasses"], ["get"]),
        rule(["", "events.k8s.io"], ["events"], ["create", "patch"]),
    ]
    labels = {"app": OPERATOR, "release": RELEASE}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(OPERATOR, OPERATOR),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": OPERATOR,
                    "automountServiceAccountToken": True,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "runAsGroup": 65534,
                        "fsGroup": 65534,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "kube-prometheus-stack",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "args": [
                                "--kubelet-service=kube-system/kps-kubelet",
                                "--localhost=127.0.0.1",
                                f"--prometheus-config-reloader={reloader}",
                                "--config-reloader-cpu-request=0",
                                "--config-reloader-cpu-limit=0",
                                "--config-reloader-memory-request=0",
                                "--config-reloader-memory-limit=0",
                                "--web.enable-tls=false",
                                "--web.listen-address=:8080",
                            ],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                            "resources": values["prometheusOperator"]["resources"],
                            "securityContext": RESTRICTED_CONTAINER,
                        }
                    ],
                },
            },
        },
    }
    return [*cluster_role(OPERATOR, rules), deployment]


def prometheus(values: dict[str, Any], image: str) -> list[dict[str, Any]]:
    # The chart's ClusterRole for Prometheus (templates/prometheus/clusterrole.yaml).
    rules = [
        rule([""], ["nodes", "nodes/metrics", "services", "endpoints", "pods"], WATCH),
        rule(["discovery.k8s.io"], ["endpointslices"], WATCH),
        rule(["networking.k8s.io"], ["ingresses"], WATCH),
        {"nonResourceURLs": ["/metrics", "/metrics/cadvisor"], "verbs": ["get"]},
    ]
    resource = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": meta(PROMETHEUS, PROMETHEUS),
        "spec": prometheus_spec(values, image),
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(PROMETHEUS, PROMETHEUS),
        "spec": {
            "selector": {
                "app.kubernetes.io/name": "prometheus",
                "operator.prometheus.io/name": PROMETHEUS,
            },
            "ports": [{"name": "http-web", "port": PORT, "targetPort": PORT}],
        },
    }
    return [*cluster_role(PROMETHEUS, rules), resource, service]


def manifests(listing: str) -> list[dict[str, Any]]:
    images = dict(line.split("=", 1) for line in listing.split() if "=" in line)
    values = yaml.safe_load(KPS_VALUES.read_text())
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return [
        namespace,
        *operator(values, images["PROMETHEUS_OPERATOR"], images["PROMETHEUS_CONFIG_RELOADER"]),
        *prometheus(values, images["PROMETHEUS"]),
    ]


if __name__ == "__main__":
    yaml.safe_dump_all(manifests(sys.argv[1]), sys.stdout, sort_keys=False)
