"""Faults on a cluster (``make up``, or the cluster tests'), through kubectl:
scale to zero, kill a pod, cut a flow with a NetworkPolicy, roll out a bad
version. Each is undone from what it saved before."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from faults_local import Fault


def port_forward(
    kubectl: list[str], namespace: str, service: str, port: int, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """``kubectl port-forward`` to a Service on a free local port: the process and the port."""
    process = subprocess.Popen(  # noqa: S603
        [*kubectl, "-n", namespace, "port-forward", f"svc/{service}", f":{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # Forwarding from 127.0.0.1:NNNNN -> PORT
    if "->" not in line:
        process.terminate()
        raise RuntimeError(f"kubectl port-forward to {namespace}/{service}:{port} failed")
    return process, int(line.split("->")[0].rsplit(":", 1)[1])


@dataclass
class Kube:
    namespace: str = "sandbox"
    release: str = "sandbox"
    kubectl: list[str] = field(default_factory=lambda: [os.environ.get("KUBECTL", "kubectl")])

    def run(self, *args: str, input: str | None = None, timeout: float = 300) -> str:
        result = subprocess.run(  # noqa: S603
            [*self.kubectl, "-n", self.namespace, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def json(self, *args: str) -> dict[str, Any]:
        """``kubectl get <args> -o json``."""
        value: dict[str, Any] = json.loads(self.run("get", *args, "-o", "json"))
        return value

    def selector(self, component: str) -> str:
        return f"app.kubernetes.io/instance={self.release},app.kubernetes.io/component={component}"

    def workload(self, component: str) -> str:
        """``deployment/<name>`` or ``statefulset/<name>`` of a component."""
        for kind in ("deployment", "statefulset"):
            items = self.json(kind, "-l", self.selector(component))["items"]
            if items:
                return f"{kind}/{items[0]['metadata']['name']}"
        raise RuntimeError(f"no workload for component {component} in {self.namespace}")

    def replicas(self, workload: str) -> int:
        return int(self.json(*workload.split("/"))["spec"].get("replicas", 1))

    def scale(self, workload: str, replicas: int) -> None:
        self.run("scale", workload, f"--replicas={replicas}")

    def rolled_out(self, workload: str, timeout: float = 300) -> None:
        self.run("rollout", "status", workload, f"--timeout={timeout:.0f}s", timeout=timeout + 30)

    def logs(self, component: str, since: str) -> list[str]:
        out = self.run(
            "logs",
            "-l",
            self.selector(component),
            "--all-containers",
            f"--since-time={since}",
            "--tail=-1",
            "--max-log-requests=20",
        )
        return out.splitlines()


class ScaledToZero(Fault):
    """A component's workload scaled to zero; its pods killed at once when
    ``kill`` (no graceful stop), else stopped as a rollout would stop them."""

    def __init__(self, kube: Kube, component: str, *, kill: bool = False) -> None:
        self.kube, self.component, self.kill = kube, component, kill
        self.describe = (
            f"{component} scaled to zero"
            + (", its pods killed (--grace-period=0 --force)" if kill else "")
            + "; scaled back after the hold"
        )
        self._workload = ""
        self._replicas = 1

    def inject(self) -> None:
        self._workload = self.kube.workload(self.component)
        self._replicas = self.kube.replicas(self._workload)
        self.kube.scale(self._workload, 0)
        if self.kill:
            self.kube.run(
                "delete",
                "pod",
                "-l",
                self.kube.selector(self.component),
                "--grace-period=0",
                "--force",
                "--wait=false",
            )

    def remove(self) -> None:
        if self._workload:
            self.kube.scale(self._workload, self._replicas)
            self.kube.rolled_out(self._workload)


class FlowCut(Fault):
    """``component`` loses its way to ``peer``: the peer's NetworkPolicy (the
    chart's policies admit traffic by the caller's component) no longer lists
    it. The component restarts, so no connection opened before survives. The
    policy is put back as it was, and the component restarted again."""

    def __init__(self, kube: Kube, component: str, peer: str) -> None:
        self.kube, self.component, self.peer = kube, component, peer
        self.describe = (
            f"the {component} -> {peer} flow cut ({component} removed from "
            f"{peer}'s NetworkPolicy, {component} restarted); restored after the hold"
        )
        self._saved: dict[str, Any] | None = None

    def _policy(self) -> dict[str, Any]:
        for policy in self.kube.json(
            "networkpolicy", "-l", f"app.kubernetes.io/instance={self.kube.release}"
        )["items"]:
            labels = policy["spec"].get("podSelector", {}).get("matchLabels", {})
            if labels.get("app.kubernetes.io/component") == self.peer:
                return policy
        raise RuntimeError(f"no NetworkPolicy selects {self.peer}")

    def _without_component(self, ingress: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cut = json.loads(json.dumps(ingress))
        found = False
        for rule in cut:
            for source in rule.get("from", []):
                for expression in (source.get("podSelector") or {}).get("matchExpressions", []):
                    if expression.get(
                        "key"
                    ) == "app.kubernetes.io/component" and self.component in expression.get(
                        "values", []
                    ):
                        expression["values"].remove(self.component)
                        found = True
        if not found:
            raise RuntimeError(f"{self.peer}'s policy does not admit {self.component}")
        return cut

    def _patch(self, ingress: list[dict[str, Any]]) -> None:
        assert self._saved is not None
        self.kube.run(
            "patch",
            "networkpolicy",
            self._saved["metadata"]["name"],
            "--type=merge",
            "-p",
            json.dumps({"spec": {"ingress": ingress}}),
        )

    def _restart(self) -> None:
        workload = self.kube.workload(self.component)
        self.kube.run("rollout", "restart", workload)
        self.kube.rolled_out(workload)

    def inject(self) -> None:
        policy = self._policy()
        self._saved = policy
        self._patch(self._without_component(policy["spec"].get("ingress", [])))
        self._restart()

    def remove(self) -> None:
        if self._saved is None:
            return
        self._patch(self._saved["spec"].get("ingress", []))
        self._restart()


class BadDeploy(Fault):
    """A new version of ``component`` that never becomes ready (its settings
    refuse to load: an unknown log level). The rollout stalls with the old
    pods serving; ``rollout undo`` brings the last good version back."""

    def __init__(self, kube: Kube, component: str) -> None:
        self.kube, self.component = kube, component
        self.describe = (
            f"a bad version of {component} rolled out (SANDBOX_LOG_LEVEL=LOUD, "
            "which its settings refuse); undone with kubectl rollout undo"
        )
        self._workload = ""

    def inject(self) -> None:
        self._workload = self.kube.workload(self.component)
        self.kube.run("set", "env", self._workload, "SANDBOX_LOG_LEVEL=LOUD")
        time.sleep(5)

    def remove(self) -> None:
        if self._workload:
            self.kube.run("rollout", "undo", self._workload)
            self.kube.rolled_out(self._workload)
