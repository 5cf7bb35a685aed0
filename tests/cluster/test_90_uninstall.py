"""`helm uninstall` leaves only what the chart says it keeps: the generated
credentials (resource-policy keep) and the datastores' volume claims."""

from __future__ import annotations

import subprocess

from tests.utils.api import eventually
from tests.utils.kube import Cluster

KINDS = ("deployments,statefulsets,services,configmaps,secrets,jobs,pods,serviceaccounts,"
         "networkpolicies,poddisruptionbudgets,roles,rolebindings,servicemonitors,prometheusrules,"
         "httproutes,persistentvolumeclaims")  # fmt: skip


def test_uninstall_leaves_only_what_the_chart_keeps(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    cluster.helm("uninstall", cluster.release, "--wait", "--timeout", "5m")

    def settled() -> set[tuple[str, str]] | None:
        # Pods go a moment after their ReplicaSets (garbage collection).
        left = cluster.items(KINDS, "-l", f"app.kubernetes.io/instance={cluster.release}")
        kinds = {o["kind"] for o in left}
        return {(o["kind"], o["metadata"]["name"]) for o in left} if "Pod" not in kinds else None

    kept = eventually(settled, timeout=120, interval=2, what="the release's pods gone")
    secrets = {name for kind, name in kept if kind == "Secret"}
    claims = {name for kind, name in kept if kind == "PersistentVolumeClaim"}
    assert secrets == {f"{cluster.release}-credentials", f"{cluster.release}-jwt"}, kept
    assert len(claims) == 4, claims
    assert kept == {("Secret", s) for s in secrets} | {("PersistentVolumeClaim", c) for c in claims}
