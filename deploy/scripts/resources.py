"""Sums the CPU and memory requests and limits of every container the chart
renders, per profile (`make resources`). Hook Jobs run once and are listed
apart. Prints a Markdown table (deploy/README.md quotes it)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sandbox_chart import render  # noqa: E402

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


def totals(profile: str) -> dict[str, dict[str, float]]:
    sums = {kind: {"cpu_req": 0.0, "cpu_lim": 0.0, "mem_req": 0.0, "mem_lim": 0.0, "pods": 0}
            for kind in ("long-running", "jobs")}
    for doc in render(profile):
        kind = doc["kind"]
        if kind not in {"Deployment", "StatefulSet", "Job"}:
            continue
        bucket = sums["jobs" if kind == "Job" else "long-running"]
        replicas = doc["spec"].get("replicas", 1) if kind != "Job" else 1
        bucket["pods"] += replicas
        for container in doc["spec"]["template"]["spec"]["containers"]:
            res = container.get("resources", {})
            bucket["cpu_req"] += replicas * cpu(res.get("requests", {}).get("cpu", 0))
            bucket["cpu_lim"] += replicas * cpu(res.get("limits", {}).get("cpu", 0))
            bucket["mem_req"] += replicas * memory(res.get("requests", {}).get("memory", 0))
            bucket["mem_lim"] += replicas * memory(res.get("limits", {}).get("memory", 0))
    return sums


def main() -> None:
    print("| profile | pods | CPU requests | CPU limits | memory requests | memory limits |")
    print("|---|---|---|---|---|---|")
    for profile in ("kind", "minikube", "lite"):
        for what, s in totals(profile).items():
            label = profile if what == "long-running" else f"{profile} (migration Job, once)"
            print(f"| {label} | {s['pods']} | {s['cpu_req']:.2f} | {s['cpu_lim']:.2f} "
                  f"| {s['mem_req'] / 2**20:.0f} Mi | {s['mem_lim'] / 2**20:.0f} Mi |")


if __name__ == "__main__":
    main()
