"""What a fault leaves behind, read from where a learner would look: the
alerts and the dashboards' queries (Prometheus), the logs, what the load test
saw, and what was accepted against what was stored."""

from __future__ import annotations

import csv
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pymongo
from routes import Route

from activity_service.db import EVENTS

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "observability" / "grafana" / "dashboards"


@dataclass(frozen=True)
class Phases:
    """Unix times: load steady from ``start``; fault from ``injected`` to ``removed``."""

    start: float
    injected: float
    removed: float
    end: float

    def windows(self) -> dict[str, tuple[float, float]]:
        return {
            "before": (self.start, self.injected),
            "during": (self.injected, self.removed),
            "after": (self.removed, self.end),
        }


# -- Prometheus ------------------------------------------------------------------------------


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/api/v1/query_range",
            timeout=30,
            params={"query": expr, "start": start, "end": end, "step": step},
        )
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def alert_timeline(self, start: float, end: float, step: float) -> list[AlertSeen]:
        """Every alert that was pending or firing in [start, end], when first and last seen."""
        seen = []
        for series in self.range("ALERTS", start, end, step):
            labels = series["metric"]
            times = [float(t) for t, _ in series["values"]]
            seen.append(
                AlertSeen(
                    labels["alertname"],
                    labels["alertstate"],
                    labels.get("job") or labels.get("outbox") or "",
                    min(times),
                    max(times),
                )
            )
        return sorted(seen, key=lambda a: (a.first, a.name, a.state))


@dataclass(frozen=True)
class AlertSeen:
    name: str
    state: str  # pending or firing
    about: str  # the job (or outbox) it names, when it names one
    first: float
    last: float


# -- dashboard panels ------------------------------------------------------------------------


@dataclass(frozen=True)
class PanelRef:
    """A panel of a generated dashboard, with the value of its ``$service``."""

    dashboard: str
    title: str
    service: str = ""
    moves: str = "up"  # what the fault does to it: up, down, or flat (it must not move)


@dataclass
class PanelReading:
    panel: PanelRef
    expr: str
    # series label text -> mean over (before, during, after); None where no sample
    series: dict[str, tuple[float | None, float | None, float | None]] = field(default_factory=dict)

    def moved(self) -> bool:
        """Some series went the expected way during the fault (for ``flat``:
        every series stayed within 20 % of where it was, or near zero)."""
        if self.panel.moves == "flat":
            return all(
                during is None or abs(during - (before or 0.0)) <= 0.2 * abs(before or 0.0) + 1e-3
                for before, during, _ in self.series.values()
            )
        for before, during, _ in self.series.values():
            if during is None:
                # Gone while the fault lasted (its process not scraped): down, to a reader.
                if self.panel.moves == "down" and before:
                    return True
                continue
            base = before if before is not None else 0.0
            if self.panel.moves == "up" and during > base * 1.2 + 1e-9:
                return True
            if self.panel.moves == "down" and during < base * 0.8 - 1e-9:
                return True
        return False


def panel_exprs(panel: PanelRef, namespace: str, rate_interval: str) -> list[str]:
    board = json.loads((DASHBOARDS / f"{panel.dashboard}.json").read_text())
    found = [p for p in board["panels"] if p.get("title") == panel.title]
    if not found:
        raise KeyError(f"no panel {panel.title!r} on the {panel.dashboard} dashboard")
    exprs = []
    for target in found[0].get("targets", []):
        expr = target.get("expr")
        if expr:
            expr = (
                expr.replace("$namespace", namespace)
                .replace("$service", panel.service)
                .replace("$__rate_interval", rate_interval)
                .replace("$__range", "5m")
            )
            exprs.append(expr)
    return exprs


def read_panel(
    prometheus: Prometheus,
    panel: PanelRef,
    phases: Phases,
    *,
    namespace: str,
    step: float,
    rate_interval: str,
) -> PanelReading:
    expr = panel_exprs(panel, namespace, rate_interval)[0]
    reading = PanelReading(panel, expr)
    for series in prometheus.range(expr, phases.start, phases.end, step):
        label = ", ".join(f"{k}={v}" for k, v in sorted(series["metric"].items())) or "value"
        points = [(float(t), float(v)) for t, v in series["values"] if not math.isnan(float(v))]
        means = []
        for low, high in phases.windows().values():
            values = [v for t, v in points if low <= t <= high]
            # For a panel that should go down, a gap (its process not scraped)
            # is what a reader sees as nothing: it counts as 0 over the window.
            slots = (
                len(values)
                if panel.moves != "down"
                else max(len(values), int((high - low) // step) + 1)
            )
            means.append(sum(values) / slots if values else None)
        reading.series[label] = (means[0], means[1], means[2])
    return reading


# -- logs ------------------------------------------------------------------------------------


@dataclass
class LogSummary:
    counts: Counter[tuple[str, str]]  # (service, level) -> lines
    example: str | None
    request_id: str | None


def _when(line: dict[str, Any]) -> float | None:
    stamp = line.get("@timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def summarize_logs(lines: list[dict[str, Any]], low: float, high: float) -> LogSummary:
    """Lines written in [low, high]: counts by service and level, the first
    warning or error, and the request id of the first such line that has one."""
    counts: Counter[tuple[str, str]] = Counter()
    example = request_id = None
    for line in sorted(
        (x for x in lines if (w := _when(x)) is not None and low <= w <= high),
        key=lambda x: _when(x) or 0.0,
    ):
        level = str(line.get("log.level", "?"))
        counts[(str(line.get("service.name", "?")), level)] += 1
        if level in ("warning", "error", "critical"):
            if example is None:
                example = json.dumps(line, ensure_ascii=False)[:600]
            if request_id is None and line.get("request_id"):
                request_id = str(line["request_id"])
    return LogSummary(counts, example, request_id)


def local_log_lines(log_dir: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted(log_dir.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as handle:
            for raw in handle:
                if raw.startswith("{"):
                    try:
                        lines.append(json.loads(raw))
                    except ValueError:
                        continue
    return lines


# -- what users saw --------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteSeen:
    method: str
    name: str
    requests: int
    failures: int
    p95_ms: float


def locust_routes(results: Path) -> list[RouteSeen]:
    rows = []
    with (results / "locust_stats.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                continue
            rows.append(
                RouteSeen(
                    row["Type"],
                    row["Name"],
                    int(row["Request Count"]),
                    int(row["Failure Count"]),
                    float(row["95%"] or 0),
                )
            )
    return rows


def locust_failures(results: Path, most: int = 8) -> list[tuple[str, str, int]]:
    path = results / "locust_failures.csv"
    if not path.exists():
        return []
    with path.open() as handle:
        found = [
            (f"{r['Method']} {r['Name']}", r["Error"], int(r["Occurrences"]))
            for r in csv.DictReader(handle)
        ]
    return sorted(found, key=lambda f: -f[2])[:most]


def gate_verdict(results: Path) -> dict[str, Any]:
    path = results / "slo.json"
    if not path.exists():
        return {"passed": None, "violations": []}
    verdict: dict[str, Any] = json.loads(path.read_text())
    return verdict


# -- what was lost ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    accepted: int
    stored: int
    waited: float

    @property
    def lost(self) -> int:
        return max(0, self.accepted - self.stored)


def accepted_events(results: Path) -> int:
    """Events the run's shoppers had answered 202 (Locust counts anything else a failure)."""
    return sum(
        r.requests - r.failures
        for r in locust_routes(results)
        if r.method == "POST" and r.name == Route.EVENTS
    )


def count_stored(
    mongo_url: str, database: str, run_tag: str, accepted: int, timeout: float
) -> Loss:
    """Stored events of the run, once the worker has caught up (or ``timeout`` passed)."""
    started = time.monotonic()
    with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=10_000) as client:
        events = client[database][EVENTS]
        while True:
            stored = events.count_documents({"metadata.run": run_tag})
            waited = time.monotonic() - started
            if stored >= accepted or waited > timeout:
                return Loss(accepted, stored, waited)
            time.sleep(2)


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")
