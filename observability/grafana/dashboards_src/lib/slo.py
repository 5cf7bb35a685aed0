"""The service-level objective, read from observability/slo.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SLO_FILE = Path(__file__).resolve().parents[3] / "slo.json"


@dataclass(frozen=True)
class BurnRateAlert:
    """An alert on the 5xx ratio above `factor` times the error budget over both windows."""

    alert: str
    severity: str
    factor: float
    long_window: str
    short_window: str


@dataclass(frozen=True)
class Slo:
    availability: float
    latency_percentile: float
    latency_seconds: float
    burn_rate_alerts: tuple[BurnRateAlert, ...]

    @property
    def error_budget(self) -> float:
        """The share of requests that may fail: 1 - availability."""
        return round(1 - self.availability, 6)

    @property
    def latency_text(self) -> str:
        """The latency bound in milliseconds: "500 ms"."""
        return f"{self.latency_seconds * 1000:.0f} ms"

    @property
    def percentile_label(self) -> str:
        """The latency percentile as a legend: "p95"."""
        return f"p{round(self.latency_percentile * 100)}"

    @property
    def percentile_text(self) -> str:
        """The latency percentile in prose: "95th percentile"."""
        number = round(self.latency_percentile * 100)
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
        if 11 <= number % 100 <= 13:
            suffix = "th"
        return f"{number}{suffix} percentile"


def load(path: Path = SLO_FILE) -> Slo:
    data = json.loads(path.read_text(encoding="utf-8"))
    return Slo(
        availability=data["availability"],
        latency_percentile=data["latency"]["percentile"],
        latency_seconds=data["latency"]["seconds"],
        burn_rate_alerts=tuple(BurnRateAlert(**alert) for alert in data["burn_rate_alerts"]),
    )


SLO = load()
