"""Rendering the sandbox chart, shared by `make manifests`, `make resources`
and tests/deploy. Profiles are the chart's ci/ scenarios."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "sandbox"
MANIFESTS = ROOT / "deploy" / "k8s" / "sandbox"
# The Kubernetes version of the pinned kind node image (deploy/k8s/kind-config.yaml).
KUBE_VERSION = "1.37.0"
RELEASE = "sandbox"
NAMESPACE = "sandbox"
PROFILES = {
    "kind": CHART / "ci" / "kind-values.yaml",
    "minikube": CHART / "ci" / "minikube-values.yaml",
    "lite": CHART / "ci" / "lite-values.yaml",
    "manifests": CHART / "ci" / "manifests-values.yaml",
    "loadtest": CHART / "ci" / "loadtest-values.yaml",
}


def helm() -> str:
    """The helm binary: $HELM, .tools/bin/helm, or helm on PATH."""
    for candidate in (os.environ.get("HELM"), str(ROOT / ".tools" / "bin" / "helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("helm")
    if found:
        return found
    raise FileNotFoundError("helm not found: run `make deploy-tools` (installs it into .tools/bin)")


def template_args(profile: str, *extra: str) -> list[str]:
    return [
        helm(),
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(PROFILES[profile]),
        *extra,
    ]


def render_text(profile: str, *extra: str) -> str:
    result = subprocess.run(  # noqa: S603 - helm with our own arguments
        template_args(profile, *extra), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm template ({profile}) failed:\n{result.stderr}")
    return result.stdout


def render(profile: str, *extra: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(render_text(profile, *extra)) if doc]
