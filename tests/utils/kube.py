"""The cluster tests' view of a real Kubernetes: kubectl and helm as
subprocesses against the test cluster `make test-cluster` brings up, and the
chart installed by the same script `make up` uses."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from tests.utils.stack import ROOT

# The scenarios' kubectl helpers (loadtests/scenarios/faults_cluster.py).
sys.path[:0] = [p for p in (str(ROOT / "loadtests" / "scenarios"), str(ROOT / "loadtests"))
                if p not in sys.path]  # fmt: skip
from faults_cluster import port_forward  # noqa: E402

# Set by deploy/scripts/test-cluster.sh for pytest.
ENV_KUBECONFIG = "SANDBOX_TEST_KUBECONFIG"
ENV_CLUSTER = "SANDBOX_TEST_CLUSTER"


@dataclass
class Cluster:
    """One test cluster: `bare` (ClusterIPs are routed to this host) or `kind`."""

    kind: str
    kubeconfig: str
    kubectl_bin: str
    helm_bin: str
    values: list[str]
    image: str
    loadtest_image: str
    namespace: str = "sandbox"
    release: str = "sandbox"
    env: dict[str, str] = field(default_factory=dict)
    _forwards: dict[tuple[str, int], tuple[subprocess.Popen[str], int]] = field(
        default_factory=dict
    )

    @classmethod
    def from_environment(cls) -> Cluster | None:
        kubeconfig = os.environ.get(ENV_KUBECONFIG)
        if not kubeconfig:
            return None
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        return cls(
            kind=os.environ.get(ENV_CLUSTER, "kind"),
            kubeconfig=kubeconfig,
            kubectl_bin=os.environ.get("SANDBOX_TEST_KUBECTL", "kubectl"),
            helm_bin=os.environ.get("SANDBOX_TEST_HELM", "helm"),
            values=os.environ.get("SANDBOX_TEST_VALUES", "ci/kind-values.yaml").split(),
            image=os.environ["SANDBOX_TEST_IMAGE"],
            loadtest_image=os.environ.get("SANDBOX_TEST_LOADTEST_IMAGE", ""),
            env=env,
        )

    # --- kubectl / helm ---------------------------------------------------
    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
        result = subprocess.run(
            list(args), input=input, capture_output=True, text=True, env=self.env,
            cwd=ROOT, timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 120) -> str:  # fmt: skip
        return self.run(self.kubectl_bin, *args, input=input, check=check, timeout=timeout).stdout

    def ns(self, *args: str, **kwargs: Any) -> str:
        return self.kubectl("-n", self.namespace, *args, **kwargs)

    def get(self, *args: str, namespace: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            self.kubectl("-n", namespace or self.namespace, "get", *args, "-o", "json")
        )
        return result

    def items(self, *args: str, namespace: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(*args, namespace=namespace)["items"]
        return items

    def install(self, *helm_args: str, timeout: str = "10m") -> subprocess.CompletedProcess[str]:
        """`helm upgrade --install --wait` through deploy/scripts/install-sandbox.sh."""
        repository, tag = self.image.rsplit(":", 1)
        env = {
            **self.env,
            "NAMESPACE": self.namespace, "RELEASE": self.release, "TIMEOUT": timeout,
            "HELM": self.helm_bin, "KUBECTL": self.kubectl_bin, "VALUES": " ".join(self.values),
            "IMAGE_REPOSITORY": repository, "IMAGE_TAG": tag, "PROGRESS": "0",
        }  # fmt: skip
        return subprocess.run(
            ["bash", "deploy/scripts/install-sandbox.sh", *helm_args],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False, timeout=900,
        )  # fmt: skip

    def loadtest_args(self, run_time: str, users: int = 10) -> list[str]:
        """helm --set arguments for the chart's in-cluster Locust: a headless run of
        `users` for `run_time` with two workers, gated by the smoke SLO profile
        (every request answered, nothing grossly slow on a busy node)."""
        repository, tag = self.loadtest_image.rsplit(":", 1)
        settings = {
            "loadtest.enabled": "true", "loadtest.mode": "headless", "loadtest.workers": "2",
            "loadtest.users": str(users), "loadtest.spawnRate": "5", "loadtest.runTime": run_time,
            "loadtest.sloProfile": "smoke",
            "loadtest.image.repository": repository, "loadtest.image.tag": tag,
        }  # fmt: skip
        return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]

    def helm(self, *args: str, check: bool = True) -> str:
        return self.run(self.helm_bin, *args, "-n", self.namespace, check=check, timeout=900).stdout

    # --- the release's objects ----------------------------------------------
    def component_selector(self, component: str) -> str:
        return f"app.kubernetes.io/instance={self.release},app.kubernetes.io/component={component}"

    def pods(self, component: str | None = None) -> list[dict[str, Any]]:
        """The release's live pods (of one component): terminating ones are gone already."""
        selector = (self.component_selector(component) if component
                    else f"app.kubernetes.io/instance={self.release}")  # fmt: skip
        return [p for p in self.items("pods", "-l", selector)
                if not p["metadata"].get("deletionTimestamp")]  # fmt: skip

    def service(self, component: str) -> dict[str, Any]:
        services = self.items("services", "-l", self.component_selector(component))
        plain = [s for s in services if s["spec"].get("clusterIP") not in (None, "None")]
        assert plain, f"no ClusterIP Service for {component}"
        return plain[0]

    def service_url(self, component: str, port_name: str | None = None) -> str:
        """A component's Service (see `url`)."""
        service = self.service(component)
        ports = service["spec"]["ports"]
        port = next((p for p in ports if p.get("name") == port_name), ports[0])
        return self.url(service, port["port"])

    def url(self, service: dict[str, Any], port: int) -> str:
        """The Service's address: its ClusterIP on bare (the cluster's Service range is
        routed to this host), a port-forward to it elsewhere (kind's node is a container)."""
        if self.kind == "bare":
            return f"http://{service['spec']['clusterIP']}:{port}"
        metadata = service["metadata"]
        return (
            f"http://127.0.0.1:{self.port_forward(metadata['name'], port, metadata['namespace'])}"
        )

    def port_forward(self, service: str, port: int, namespace: str | None = None) -> int:
        namespace = namespace or self.namespace
        key = (f"{namespace}/{service}", port)
        if key not in self._forwards:
            self._forwards[key] = port_forward(
                [self.kubectl_bin], namespace, service, port, env=self.env
            )
        return self._forwards[key][1]

    def close(self) -> None:
        for process, _ in self._forwards.values():
            process.terminate()
        self._forwards.clear()

    def secret_value(self, name: str, key: str) -> str:
        data = self.get("secret", name)["data"]
        return base64.b64decode(data[key]).decode()

    def wait_ready(self, component: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pods = [p for p in self.pods(component) if not p["metadata"].get("deletionTimestamp")]
            if pods and all(pod_ready(p) for p in pods):
                return
            time.sleep(1)
        raise AssertionError(f"{component} not Ready within {timeout}s")


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return pod["status"].get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions
    )


def run_pod_manifest(name: str, namespace: str, image: str, labels: dict[str, str],
                     command: list[str]) -> dict[str, Any]:  # fmt: skip
    """A pod that meets the restricted Pod Security Standard and runs once."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },  # fmt: skip
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "32Mi"},
                        "limits": {"cpu": "200m", "memory": "128Mi"},
                    },
                }
            ],  # fmt: skip
        },
    }
