"""Load shapes, chosen by name: ``--shape`` / ``LOCUST_SHAPE`` / ``SHAPE``.

Each shape is a pure function of the elapsed time and the run's parameters
(peak users, spawn rate, duration) that returns the target user count and
spawn rate, or ``None`` when the run is over. The locustfile's
``SelectedShape`` is the one ``LoadTestShape`` Locust sees; it reads ``-u``,
``-r`` and ``-t`` so the same options drive every shape. (This module does not
import Locust, whose import patches the standard library, so it can be unit
tested next to everything else.)

- steady: ramp to the peak, hold it (the everyday baseline and the smoke run).
- ramp:   climb in ten equal steps to the peak, to find where latency bends.
- spike:  a quarter of the peak, then the peak almost at once, then back:
          how fast queues drain and caches recover.
- soak:   the peak held for a long time (default one hour): leaks, growth of
          tables and collections, expiry, connection churn.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ShapeParams:
    users: int
    spawn_rate: float
    duration: float  # seconds


Tick = tuple[int, float] | None
ShapeFn = Callable[[float, ShapeParams], Tick]


def steady(elapsed: float, p: ShapeParams) -> Tick:
    if elapsed >= p.duration:
        return None
    return p.users, p.spawn_rate


def ramp(elapsed: float, p: ShapeParams, steps: int = 10) -> Tick:
    if elapsed >= p.duration:
        return None
    # The last tenth of the run holds the peak so its percentiles are measured.
    step_length = p.duration / (steps + 1)
    step = min(steps, int(elapsed // step_length) + 1)
    return max(1, math.ceil(p.users * step / steps)), p.spawn_rate


def spike(elapsed: float, p: ShapeParams) -> Tick:
    if elapsed >= p.duration:
        return None
    baseline = max(1, p.users // 4)
    start, end = 0.4 * p.duration, 0.6 * p.duration
    if start <= elapsed < end:
        # Arrive within about five seconds, however large the peak.
        return p.users, max(p.spawn_rate, (p.users - baseline) / 5)
    return baseline, max(p.spawn_rate, baseline / 5)


def soak(elapsed: float, p: ShapeParams) -> Tick:
    return steady(elapsed, p)


SHAPES: dict[str, ShapeFn] = {"steady": steady, "ramp": ramp, "spike": spike, "soak": soak}

# Used when -t is not given. A run in the web UI without a run time never ends
# by itself (stop it there), except for these headless defaults.
DEFAULT_DURATIONS = {"steady": 120.0, "ramp": 300.0, "spike": 180.0, "soak": 3600.0}
DEFAULT_USERS = 20


# Users spawned per second, at most, unless asked for more: the login storm
# the user service takes with no error (500 users at 50 a second).
MAX_SPAWN_RATE = 50.0


def default_shape_name() -> str:
    return os.environ.get("LOCUST_SHAPE") or os.environ.get("SHAPE") or "steady"


def shape_params(
    name: str,
    users: int | None,
    spawn_rate: float | None,
    run_time: float | None,
    headless: bool = True,
) -> ShapeParams:
    if name not in SHAPES:
        raise ValueError(f"unknown shape {name!r} (known: {', '.join(SHAPES)})")
    peak = users or DEFAULT_USERS
    # Default spawn: the peak within ten seconds, but never a stampede.
    rate = spawn_rate or max(1.0, min(peak / 10, MAX_SPAWN_RATE))
    if run_time:
        duration = float(run_time)
    elif headless:
        duration = DEFAULT_DURATIONS[name]
    else:
        duration = math.inf
    return ShapeParams(users=peak, spawn_rate=rate, duration=duration)
