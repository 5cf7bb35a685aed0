"""The first install, as `make up` does it: every pod Ready, the databases
migrated first, nothing the restricted Pod Security Standard would refuse."""

from __future__ import annotations

import subprocess

from tests.utils.kube import Cluster, pod_ready


def test_every_pod_is_ready_and_migrated_before_it_started(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    pods = [
        p
        for p in cluster.pods()
        if p["metadata"].get("ownerReferences", [{}])[0].get("kind") != "Job"
    ]
    components = {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods}
    assert {"user", "catalog", "activity", "worker", "beat"} <= components, components
    assert {"postgres-user", "postgres-catalog", "mongo", "redis"} <= components, components
    not_ready = [p["metadata"]["name"] for p in pods if not pod_ready(p)]
    assert not not_ready, not_ready
    restarts = {
        p["metadata"]["name"]: s["restartCount"]
        for p in pods for s in p["status"]["containerStatuses"] if s["restartCount"] > 0
    }  # fmt: skip
    assert not restarts, f"containers restarted during the install: {restarts}"

    # Each database was migrated before the processes that use it started.
    for name in ("user", "catalog", "worker"):
        for pod in cluster.pods(name):
            (init,) = pod["status"]["initContainerStatuses"]
            assert init["name"] == "migrate"
            assert init["state"]["terminated"]["exitCode"] == 0, init
    assert cluster.items("jobs", "-l", f"app.kubernetes.io/instance={cluster.release}") == []


def test_the_namespace_enforces_restricted_and_nothing_was_warned(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    labels = cluster.get("namespace", cluster.namespace)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    output = installed.stdout + installed.stderr
    assert "PodSecurity" not in output, output
    assert "Warning" not in output, output
    events = cluster.items("events", "--field-selector", "type=Warning")
    # A controller whose pod the admission refuses says so in a FailedCreate event.
    refused = [e["message"] for e in events if "PodSecurity" in e.get("message", "")]
    assert not refused, refused
