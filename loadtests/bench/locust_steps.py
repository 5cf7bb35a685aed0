"""The load test's locustfile, for one step of the bench's capacity search.

Same users, shape and data preparation as loadtests/locustfile.py, plus a
measurement window: once every user is spawned, wait at least
``BENCH_SETTLE_SECONDS`` and until no login has been made for a few seconds
(shoppers log in once, on start, with a deliberately slow password hash),
then reset the statistics, hold the load for ``BENCH_MEASURE_SECONDS``, stop
counting and stop. A step's figures therefore cover the held load only, not
the ramp and the start-up logins, nor what users do as they stop.
``--run-time`` stays as a safety limit.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cpu
from locustfile import Admin, AnonymousBrowser, SelectedShape, Shopper

__all__ = ["Admin", "AnonymousBrowser", "SelectedShape", "Shopper"]

SETTLE_SECONDS = float(os.environ.get("BENCH_SETTLE_SECONDS", "10"))
MEASURE_SECONDS = float(os.environ.get("BENCH_MEASURE_SECONDS", "30"))
# Where to write the CPU each part of the stack spent in the window (cpu.py).
CPU_FILE = os.environ.get("BENCH_CPU_FILE", "")
QUIET_SECONDS = 3.0
MAX_SETTLE_SECONDS = 120.0
TOKEN = ("POST", "/api/v1/auth/token")
_started: dict[str, bool] = {}


def _logins(environment: Any) -> int:
    entry = environment.runner.stats.entries.get(TOKEN)
    return entry.num_requests if entry else 0


def _measure(environment: Any, user_count: int) -> None:
    began = time.monotonic()
    gevent.sleep(SETTLE_SECONDS)
    last, quiet_since = _logins(environment), time.monotonic()
    while time.monotonic() - began < MAX_SETTLE_SECONDS:
        gevent.sleep(0.5)
        now = _logins(environment)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_SECONDS:
            break
    environment.runner.stats.reset_all()
    before, window_began = cpu.snapshot(), time.monotonic()
    print(
        f"[bench] statistics reset after {time.monotonic() - began:.0f} s of settling; "
        f"{environment.runner.user_count} of {user_count} users running, "
        f"held for {MEASURE_SECONDS:g} s",
        flush=True,
    )
    gevent.sleep(MEASURE_SECONDS)
    _freeze(environment.runner.stats)
    if CPU_FILE:
        window = cpu.measure(before, cpu.snapshot(), time.monotonic() - window_began)
        cpu.write(Path(CPU_FILE), window)
    environment.runner.quit()


def _freeze(stats: Any) -> None:
    """The window is over: the statistics Locust writes at its exit stay the
    window's. What users do as they stop is not the held load: every admin
    deletes what it created, all at once (users/admin.py, ``on_stop``), and
    those deletes, and the requests that waited behind them, would count."""
    stats.log_request = lambda *args, **kwargs: None
    stats.log_error = lambda *args, **kwargs: None


@events.spawning_complete.add_listener
def _start_window(user_count: int, **_: Any) -> None:
    from locustfile import _STATE

    environment = _STATE.get("environment")
    if environment is None or _started or not user_count:
        return
    _started["window"] = True
    gevent.spawn(_measure, environment, user_count)
