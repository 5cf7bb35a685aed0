"""The fault scenarios: what each breaks, the alerts it should raise and the
dashboard panels that show it. docs/scenarios/<name>.md explains each one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faults_cluster
import faults_local
import yaml
from evidence import PanelRef
from faults_cluster import Kube
from faults_local import Fault

RULES = Path(__file__).resolve().parents[2] / "observability" / "prometheus" / "rules"


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    # Alerts the fault should raise (pending, then firing once held past `for:`).
    alerts: tuple[str, ...]
    # Panels whose queries the fault moves, and which way.
    panels: tuple[PanelRef, ...]
    # The fault on the local stack (given the stack's settings), and on a
    # cluster (given kubectl and the service URLs); None where it cannot run.
    local: Callable[[dict[str, str]], Fault] | None
    cluster: Callable[[Kube, dict[str, str]], Fault] | None
    # Whether accepted events are counted against stored ones.
    counts_loss: bool = True
    users: int = 20


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "cache-down",
            "the catalog loses its Redis cache: product reads fall back to PostgreSQL",
            alerts=("SandboxCacheFallbackHigh",),
            panels=(PanelRef("catalog", "Reads served by the database fallback", "catalog", "up"),),
            local=lambda env: faults_local.CacheCut(),
            cluster=lambda kube, urls: faults_cluster.FlowCut(kube, "catalog", "redis"),
        ),
        Scenario(
            "worker-killed",
            "the Celery worker is killed mid-stream: tasks queue up, then drain; nothing is lost",
            alerts=("SandboxWorkerDown",),
            panels=(
                PanelRef("celery", "Tasks waiting", "", "up"),
                PanelRef("celery", "Worker consuming", "", "down"),
            ),
            local=lambda env: faults_local.WorkerKilled(),
            cluster=lambda kube, urls: faults_cluster.ScaledToZero(kube, "worker", kill=True),
        ),
        Scenario(
            "catalog-down",
            "the catalog stops: its routes fail, activity's trending answers degraded",
            alerts=("SandboxServiceDown", "SandboxDependencyFailing"),
            panels=(PanelRef("activity", "Catalog call failure ratio", "activity", "up"),),
            local=lambda env: faults_local.ServiceStopped("catalog"),
            cluster=lambda kube, urls: faults_cluster.ScaledToZero(kube, "catalog"),
        ),
        Scenario(
            "postgres-slow",
            "PostgreSQL answers slowly: pools wait, latency rises, nothing fails outright",
            alerts=("SandboxLatencyP95High",),
            panels=(
                PanelRef("catalog", "p95 latency", "catalog", "up"),
                PanelRef("catalog", "Database pool connections", "catalog", "up"),
            ),
            local=lambda env: faults_local.PostgresSlow(),
            cluster=None,  # freezing a server's processes needs the node, not kubectl
        ),
        Scenario(
            "broker-down",
            "Redis, the broker, stops: ingestion answers 503, nothing accepted is lost",
            alerts=("SandboxWorkerDown",),
            panels=(
                PanelRef("activity", "5xx ratio", "activity", "up"),
                PanelRef("celery", "Worker consuming", "", "down"),
            ),
            local=lambda env: faults_local.RedisStopped(),
            cluster=lambda kube, urls: faults_cluster.ScaledToZero(kube, "redis"),
            # Events are a small share of the mix (a few a minute from 20 users):
            # enough users that some are posted before, during and after the fault.
            users=80,
        ),
        Scenario(
            "login-storm",
            "a storm of logins: password hashing takes the CPU, a guesser is throttled",
            alerts=(),
            panels=(
                PanelRef("user", "p95 latency", "user", "up"),
                PanelRef("user", "Failed login ratio", "user", "up"),
            ),
            local=lambda env: faults_local.LoginStorm(env["SANDBOX_USER_URL"]),
            cluster=lambda kube, urls: faults_local.LoginStorm(urls["user"]),
        ),
        Scenario(
            "bad-deploy",
            "a bad catalog version rolls out: it never gets ready, the old pods keep serving",
            alerts=(),
            panels=(PanelRef("catalog", "5xx ratio", "catalog", "flat"),),
            local=None,  # the local stack has no rollouts
            cluster=lambda kube, urls: faults_cluster.BadDeploy(kube, "catalog"),
            counts_loss=False,
        ),
    )
}


def alert_for_seconds(names: tuple[str, ...]) -> dict[str, float]:
    """The shipped rules' ``for:`` of each alert, in seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    found = {}
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") in names:
                    text = str(rule.get("for", "0s"))
                    found[rule["alert"]] = float(text[:-1]) * units[text[-1]]
    return found
