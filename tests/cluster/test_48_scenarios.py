"""The fault scenarios on the cluster (``make scenario TARGET=cluster``),
shortened, through kubectl exactly as a user runs them: a bad version rolled
out (the cluster-only scenario) and the catalog scaled to zero. The report's
key facts hold: the rollout never takes the old pods down and users see no
error; the catalog's absence raises its alert, and the catalog comes back.

The cluster's Prometheus evaluates the shipped rules unchanged; the holds are
short, so the catalog's alert is checked to go pending (its ``for:`` is a
minute), which shows its no-target branch matching on a real cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import monitoring  # deploy/bare/monitoring.py: the names kube-prometheus-stack gives
import pytest

from tests.utils.kube import Cluster
from tests.utils.stack import ROOT

pytestmark = pytest.mark.slow


def run_scenario(cluster: Cluster, urls: dict[str, str], name: str, tmp_path: Path,
                 *, hold: float) -> tuple[dict[str, object], str]:  # fmt: skip
    prometheus = cluster.get("service", monitoring.PROMETHEUS, namespace=monitoring.NAMESPACE)
    env = {
        **cluster.env,
        "KUBECTL": cluster.kubectl_bin,
        **{f"SANDBOX_{service.upper()}_URL": url for service, url in urls.items()},
    }
    run = subprocess.run(
        [sys.executable, str(ROOT / "loadtests" / "scenarios" / "run.py"), name,
         "--target", "cluster", "--namespace", cluster.namespace, "--release", cluster.release,
         "--prometheus", cluster.url(prometheus, monitoring.PORT),
         # MongoDB is reached only through its headless Service, from pods the
         # chart's policies allow; the no-loss checks are the local scenarios'
         # and test_50's.
         "--no-loss-count",
         "--warmup", "20", "--hold", str(hold), "--recovery", "20", "--users", "10",
         "--results", str(tmp_path), "--slo-profile", "off"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=1500,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (results,) = tmp_path.glob(f"*-scenario-{name}")
    return json.loads((results / "scenario.json").read_text()), (
        results / "scenario.md"
    ).read_text()


@pytest.mark.timeout(1800)
def test_a_bad_deploy_never_takes_the_old_version_down(
    cluster: Cluster, urls: dict[str, str], tmp_path: Path
) -> None:
    before = cluster.get("deployment", f"{cluster.release}-catalog")["metadata"]["generation"]
    facts, report = run_scenario(cluster, urls, "bad-deploy", tmp_path, hold=45)
    assert all(facts["panels_moved"].values()), report  # the catalog's 5xx ratio stayed flat
    assert "SandboxServiceDown" not in facts["firing"], report
    catalog = [line for line in report.splitlines() if "/api/v1/products" in line and "| " in line]
    assert catalog, report
    assert all(line.split("|")[3].strip() == "0" for line in catalog), report  # no failed request
    # Undone: the last good version serves, ready, and no pod of the bad one is left.
    deployment = cluster.get("deployment", f"{cluster.release}-catalog")
    assert deployment["metadata"]["generation"] > before
    env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
    assert all(e.get("value") != "LOUD" for e in env)
    cluster.wait_ready("catalog")


@pytest.mark.timeout(1800)
def test_the_catalog_scaled_to_zero_raises_its_alert_and_comes_back(
    cluster: Cluster, urls: dict[str, str], tmp_path: Path
) -> None:
    facts, report = run_scenario(cluster, urls, "catalog-down", tmp_path, hold=75)
    raised = {*facts["pending"], *facts["firing"]}  # type: ignore[misc]
    assert "SandboxServiceDown" in raised, report
    cluster.wait_ready("catalog")
    assert httpx.get(f"{urls['catalog']}/readyz", timeout=10).status_code == 200
