"""`helm upgrade` with the same values changes nothing and keeps the
generated secrets; a configuration change rolls the pods that read it."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.utils.api import eventually
from tests.utils.kube import Cluster

WORKLOADS = "deployments,statefulsets"


def _state(cluster: Cluster) -> dict[str, Any]:
    selector = f"app.kubernetes.io/instance={cluster.release}"
    workloads = {
        f"{w['kind']}/{w['metadata']['name']}": w["metadata"]["generation"]
        for w in cluster.items(WORKLOADS, "-l", selector)
    }
    pods = {p["metadata"]["uid"] for p in cluster.pods()
            if p["metadata"]["labels"].get("app.kubernetes.io/component") != "migrate"}  # fmt: skip
    secrets = {s["metadata"]["name"]: s["data"] for s in cluster.items("secrets", "-l", selector)}
    config = {
        c["metadata"]["name"]: c.get("data") for c in cluster.items("configmaps", "-l", selector)
    }
    return {"workloads": workloads, "pods": pods, "secrets": secrets, "config": config}


def test_an_upgrade_with_the_same_values_changes_nothing(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    before = _state(cluster)
    result = cluster.install()
    assert result.returncode == 0, result.stdout + result.stderr
    after = _state(cluster)
    assert after["workloads"] == before["workloads"]
    assert after["pods"] == before["pods"], "pods were replaced"
    assert after["secrets"] == before["secrets"], "generated secrets changed"
    assert after["config"] == before["config"]


def test_a_config_change_rolls_the_pods_that_use_it(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    def app_pods() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for pod in cluster.pods():
            component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
            found.setdefault(component, set()).add(pod["metadata"]["uid"])
        return found

    before = app_pods()
    secrets = _state(cluster)["secrets"]
    try:
        result = cluster.install("--set", "app.logLevel=DEBUG")
        assert result.returncode == 0, result.stdout + result.stderr
        rolling = ("user", "catalog", "activity", "worker", "beat")

        def rolled() -> dict[str, set[str]] | None:
            # helm --wait returns once the new pods are Ready; the old ones may
            # still be on their way out.
            now = app_pods()
            done = all(now[c] and now[c].isdisjoint(before[c]) for c in rolling)
            return now if done else None

        after = eventually(rolled, timeout=120, interval=2, what="the application pods rolled")
        for datastore in ("postgres-user", "postgres-catalog", "mongo", "redis"):
            assert after[datastore] == before[datastore], f"{datastore} was restarted"
        config = cluster.items("configmaps", "-l", f"app.kubernetes.io/instance={cluster.release}")
        assert any((c.get("data") or {}).get("SANDBOX_LOG_LEVEL") == "DEBUG" for c in config)
        assert _state(cluster)["secrets"] == secrets
    finally:
        restored = cluster.install()
        assert restored.returncode == 0, restored.stdout + restored.stderr
