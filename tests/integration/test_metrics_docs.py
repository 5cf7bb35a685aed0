"""docs/metrics.md is checked against what the processes really export: every
sandbox_* series a process of the local stack serves is described there, and
its "exported by" column names that process."""

from __future__ import annotations

import re

import httpx

from tests.utils.stack import ROOT, stack_module

PROCESSES = ("user", "catalog", "activity", "worker", "beat")
SUFFIXES = ("_bucket", "_count", "_sum")


def documented() -> dict[str, set[str]]:
    exported: dict[str, set[str]] = {}
    for line in (ROOT / "docs" / "metrics.md").read_text().splitlines():
        match = re.match(r"\| `(sandbox_[a-z0-9_]+)` \|.*\| ([^|]+) \|$", line)
        if match:
            by = match.group(2).strip()
            exported[match.group(1)] = (
                set(PROCESSES) if by == "every process" else {p.strip() for p in by.split(",")}
            )
    return exported


def family(sample: str, names: set[str]) -> str | None:
    """The documented metric a sample belongs to (histogram parts, _created)."""
    candidates = [sample, *(sample.removesuffix(s) for s in SUFFIXES if sample.endswith(s))]
    if sample.endswith("_created"):
        candidates += [sample.removesuffix("_created") + "_total", sample.removesuffix("_created")]
    return next((c for c in candidates if c in names), None)


def test_every_exported_metric_is_documented_with_its_exporters(urls: dict[str, str]) -> None:
    docs = documented()
    assert len(docs) >= 20
    ports = stack_module().ports()
    wrong: dict[str, str] = {}
    for process in PROCESSES:
        response = httpx.get(f"http://127.0.0.1:{ports[process]}/metrics", timeout=10)
        assert response.status_code == 200, f"{process}: /metrics answered {response.status_code}"
        text = response.text
        if not re.search(rf'^sandbox_build_info\{{[^}}]*component="{process}"[^}}]*\}} 1\.0$',
                         text, re.M):  # fmt: skip
            wrong[f"{process}: sandbox_build_info"] = "not exported (for this component, at 1)"
        samples = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                   if line.startswith("sandbox_")}  # fmt: skip
        for sample in samples:
            name = family(sample, set(docs))
            if name is None:
                wrong[f"{process}: {sample}"] = "not in docs/metrics.md"
            elif process not in docs[name]:
                wrong[f"{process}: {name}"] = (
                    f"exported, but the docs say only {sorted(docs[name])}"
                )
    assert not wrong, wrong
