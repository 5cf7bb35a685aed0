"""Sums the CPU and memory requests and limits of every container the chart
renders, per profile (`make resources`), as the scheduler counts a pod: its
containers' sum, or its largest init container when that is more. Prints a
Markdown table (deploy/README.md quotes it)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_chart import render

UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}


def cpu(value: str | int | float) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory(value: str | int) -> float:
    text = str(value)
    for suffix, factor in UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


def _pod(spec: dict) -> dict[str, float]:  # type: ignore[type-arg]
    def amounts(container: dict) -> dict[str, float]:  # type: ignore[type-arg]
        res = container.get("resources", {})
        return {
            "cpu_req": cpu(res.get("requests", {}).get("cpu", 0)),
            "cpu_lim": cpu(res.get("limits", {}).get("cpu", 0)),
            "mem_req": memory(res.get("requests", {}).get("memory", 0)),
            "mem_lim": memory(res.get("limits", {}).get("memory", 0)),
        }

    main = [amounts(c) for c in spec["containers"]]
    init = [amounts(c) for c in spec.get("initContainers", [])]
    return {key: max([sum(m[key] for m in main), *(i[key] for i in init)]) for key in main[0]}


def totals(profile: str) -> dict[str, float]:
    sums = {"cpu_req": 0.0, "cpu_lim": 0.0, "mem_req": 0.0, "mem_lim": 0.0, "pods": 0}
    for doc in render(profile):
        if doc["kind"] not in {"Deployment", "StatefulSet"}:
            continue
        replicas = doc["spec"].get("replicas", 1)
        sums["pods"] += replicas
        for key, value in _pod(doc["spec"]["template"]["spec"]).items():
            sums[key] += replicas * value
    return sums


PLATFORM = Path(__file__).resolve().parents[1] / "platform"
FULL_ONLY = {
    "eck-operator.yaml",
    "eck-stack.yaml",
    "fluent-bit.yaml",
    "kube-prometheus-stack-logs.yaml",
    "kibana-route.yaml",
}


def platform_totals(profile: str) -> dict[str, float]:
    """Requests/limits our platform values set (one replica each; containers
    whose chart default we keep, such as Grafana's sidecars, are not counted)."""
    import yaml

    sums = {"cpu_req": 0.0, "cpu_lim": 0.0, "mem_req": 0.0, "mem_lim": 0.0, "pods": 0}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            res = node.get("resources")
            if isinstance(res, dict) and ("requests" in res or "limits" in res):
                sums["pods"] += 1
                sums["cpu_req"] += cpu(res.get("requests", {}).get("cpu", 0))
                sums["cpu_lim"] += cpu(res.get("limits", {}).get("cpu", 0))
                sums["mem_req"] += memory(res.get("requests", {}).get("memory", 0))
                sums["mem_lim"] += memory(res.get("limits", {}).get("memory", 0))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in sorted(PLATFORM.glob("*.yaml")):
        if profile == "lite" and path.name in FULL_ONLY:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            walk(doc)
    return sums


def main() -> None:
    print("| profile | pods | CPU requests | CPU limits | memory requests | memory limits |")
    print("|---|---|---|---|---|---|")
    for profile in ("kind", "minikube", "lite", "loadtest"):
        s = totals(profile)
        print(
            f"| {profile} | {s['pods']} | {s['cpu_req']:.2f} | {s['cpu_lim']:.2f} "
            f"| {s['mem_req'] / 2**20:.0f} Mi | {s['mem_lim'] / 2**20:.0f} Mi |"
        )
    print()
    print(
        "| platform profile | containers | CPU requests | CPU limits "
        "| memory requests | memory limits |"
    )
    print("|---|---|---|---|---|---|")
    for profile in ("full", "lite"):
        s = platform_totals(profile)
        print(
            f"| {profile} | {s['pods']} | {s['cpu_req']:.2f} | {s['cpu_lim']:.2f} "
            f"| {s['mem_req'] / 2**20:.0f} Mi | {s['mem_lim'] / 2**20:.0f} Mi |"
        )


if __name__ == "__main__":
    main()
