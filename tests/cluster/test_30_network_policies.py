"""The chart's NetworkPolicies, enforced by a real policy controller: who may
open a connection to each datastore and service, tried from pods."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from sandbox_common.topology import SERVICE_PORTS as PORTS
from tests.utils.kube import Cluster, run_pod_manifest

PROBE = """
import json, socket, sys, time
# A policy controller learns a new pod's address from the API a moment after
# the pod starts; until then it may treat the pod as unknown. Every target gets
# the same window, so a flow that is open in it is open, and one that stays
# shut through all of it is blocked.
results = {}
deadline = time.monotonic() + 20
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
            results[target] = "open"
            break
        except OSError as error:
            results[target] = type(error).__name__
            if time.monotonic() > deadline:
                break
            time.sleep(1)
print(json.dumps(results))
"""


def probe(
    cluster: Cluster, namespace: str, labels: dict[str, str], targets: list[str]
) -> dict[str, str]:
    """Opens a TCP connection to each host:port from a pod with these labels."""
    name = f"np-probe-{uuid.uuid4().hex[:8]}"
    pod = run_pod_manifest(name, namespace, cluster.image, labels,
                           ["python3", "-c", PROBE, *targets])  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    try:
        cluster.kubectl("-n", namespace, "wait", f"pod/{name}", "--timeout=120s",
                        "--for=jsonpath={.status.phase}=Succeeded", timeout=150)  # fmt: skip
        result: dict[str, str] = json.loads(cluster.kubectl("-n", namespace, "logs", name))
        return result
    finally:
        cluster.kubectl("-n", namespace, "delete", "pod", name, "--wait=false", check=False)


def fqdn(cluster: Cluster, component: str, port: int) -> str:
    return f"{cluster.release}-{component}.{cluster.namespace}.svc.cluster.local:{port}"


DATASTORES = {"postgres-user": 5432, "postgres-catalog": 5432, "mongo": 27017, "redis": 6379}


@pytest.fixture(scope="module")
def monitoring(cluster: Cluster, installed: subprocess.CompletedProcess[str]) -> str:
    """A namespace named as the chart's values name Prometheus's (networkPolicy.monitoringNamespace)."""
    cluster.kubectl("create", "namespace", "monitoring", check=False)
    cluster.kubectl("label", "namespace", "monitoring", "--overwrite",
                    "pod-security.kubernetes.io/enforce=restricted")  # fmt: skip
    return "monitoring"


def test_a_pod_the_policies_do_not_name_reaches_no_datastore_and_no_service(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    targets = [fqdn(cluster, name, port) for name, port in DATASTORES.items()]
    targets += [fqdn(cluster, "user", PORTS["user"]), fqdn(cluster, "catalog", PORTS["catalog"])]
    result = probe(cluster, cluster.namespace, {"app": "intruder"}, targets)
    opened = [target for target, outcome in result.items() if outcome == "open"]
    assert not opened, f"an unlisted pod reached {opened}"
    # Blocked by policy, not by a name that does not resolve.
    assert "gaierror" not in result.values(), result


def test_every_flow_the_chart_allows_works(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    release = {"app.kubernetes.io/name": "sandbox", "app.kubernetes.io/instance": cluster.release}
    expected = {
        # component -> what its `uses` lets it reach
        "user": {"postgres-user": 5432, "redis": 6379},
        "catalog": {"postgres-catalog": 5432, "redis": 6379, "user": PORTS["user"]},
        "activity": {
            "mongo": 27017,
            "redis": 6379,
            "user": PORTS["user"],
            "catalog": PORTS["catalog"],
        },
        "worker": DATASTORES,
    }
    for component, allowed in expected.items():
        labels = {**release, "app.kubernetes.io/component": component}
        targets = [fqdn(cluster, name, port) for name, port in allowed.items()]
        result = probe(cluster, cluster.namespace, labels, targets)
        assert set(result.values()) == {"open"}, f"{component}: {result}"
    # ...and a component reaches nothing beyond what it uses.
    labels = {**release, "app.kubernetes.io/component": "beat"}
    result = probe(cluster, cluster.namespace, labels,
                   [fqdn(cluster, "postgres-user", 5432), fqdn(cluster, "mongo", 27017)])  # fmt: skip
    assert "open" not in result.values(), result


def test_prometheus_namespace_reaches_metrics_ports_only(cluster: Cluster, monitoring: str) -> None:
    metrics = {"postgres-user-exporter": 9187, "redis-exporter": 9121, "mongo-exporter": 9216,
               "user": PORTS["user"]}  # fmt: skip
    result = probe(cluster, monitoring, {"app": "prometheus"},
                   [fqdn(cluster, name, port) for name, port in metrics.items()])  # fmt: skip
    assert set(result.values()) == {"open"}, result
    result = probe(cluster, monitoring, {"app": "prometheus"},
                   [fqdn(cluster, name, port) for name, port in DATASTORES.items()])  # fmt: skip
    assert "open" not in result.values(), result
