"""Threshold steps (the colours of a value) and value mappings."""

from __future__ import annotations

from .slo import SLO
from .targets import Json


def steps(*pairs: tuple[str, float | None]) -> Json:
    """Absolute thresholds; the first pair is the base colour (value None)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for color, value in pairs],
    }


NEUTRAL = steps(("green", None))
# Orange from 80 % of the SLO latency, red above it.
LATENCY = steps(
    ("green", None), ("orange", SLO.latency_seconds * 0.8), ("red", SLO.latency_seconds)
)
ERROR_RATIO = steps(("green", None), ("orange", SLO.error_budget), ("red", 0.05))
UP = steps(("red", None), ("green", 1))
# 0 and 1 of an up-style gauge shown as DOWN and UP.
UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
