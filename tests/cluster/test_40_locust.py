"""The chart's in-cluster Locust: a master and workers run a short headless
load against the release's Services and the SLO gate passes."""

from __future__ import annotations

import subprocess
import time

from tests.utils.api import eventually
from tests.utils.kube import Cluster


def test_in_cluster_locust_runs_headless_and_passes_its_gate(
    cluster: Cluster, installed: subprocess.CompletedProcess[str]
) -> None:
    try:
        result = cluster.install(*cluster.loadtest_args("40s"))
        assert result.returncode == 0, result.stdout + result.stderr
        (master,) = cluster.pods("locust")
        assert len(cluster.pods("locust-worker")) == 2
        name = master["metadata"]["name"]
        deadline = time.monotonic() + 180
        terminated = None
        while time.monotonic() < deadline and terminated is None:
            pod = cluster.get("pod", name)
            status = pod["status"]["containerStatuses"][0]
            terminated = (status.get("state", {}).get("terminated")
                          or status.get("lastState", {}).get("terminated"))  # fmt: skip
            time.sleep(2)
        assert terminated is not None, "the headless run did not end"
        log = cluster.ns("logs", name, "--previous", check=False) or cluster.ns("logs", name)
        assert terminated["exitCode"] == 0, f"the SLO gate failed:\n{log[-4000:]}"
        assert "SLO" in log, log[-4000:]
    finally:
        # Back to the release as make up installs it, for the tests after this one.
        restored = cluster.install()
        assert restored.returncode == 0, restored.stdout + restored.stderr
    eventually(lambda: cluster.pods("locust") == [] or None, timeout=60, what="Locust removed")
