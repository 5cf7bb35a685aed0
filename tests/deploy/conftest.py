"""Fixtures of the deploy checks: helm and the tool venv from .tools/
(`make deploy-tools`), the chart rendered once per profile."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy" / "scripts"))

import sandbox_chart  # noqa: E402

TOOL_VENV = ROOT / ".tools" / "venv"
CHART_PROFILES = ("kind", "minikube", "lite", "manifests", "loadtest")
MISSING_TOOLS = (
    "run `make deploy-tools` (installs helm into .tools/bin and checkov/kubernetes-validate "
    "into .tools/venv)"
)


@pytest.fixture(scope="session")
def helm() -> str:
    try:
        return sandbox_chart.helm()
    except FileNotFoundError:
        pytest.fail(f"helm not found: {MISSING_TOOLS}")


@pytest.fixture(scope="session")
def tool_python() -> Path:
    python = TOOL_VENV / "bin" / "python"
    if not python.exists() or not (TOOL_VENV / "bin" / "checkov").exists():
        pytest.fail(f"tool venv missing: {MISSING_TOOLS}")
    return python


@pytest.fixture(scope="session")
def rendered(helm: str) -> dict[str, list[dict[str, Any]]]:
    os.environ.setdefault("HELM", helm)
    return {profile: sandbox_chart.render(profile) for profile in CHART_PROFILES}


@pytest.fixture(scope="session")
def rendered_text(helm: str) -> dict[str, str]:
    return {profile: sandbox_chart.render_text(profile) for profile in CHART_PROFILES}


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet", "Job", "DaemonSet"}]


def component(doc: dict[str, Any]) -> str:
    labels = doc["metadata"].get("labels", {})
    return labels.get("app.kubernetes.io/component", "")
