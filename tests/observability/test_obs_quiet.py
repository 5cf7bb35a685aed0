"""A healthy stack under steady load raises no alert.

Needs the local stack (`make local-up`; `make test` starts it). A Prometheus
of the test's own, configured exactly as the stack's (scripts/stack.py:
prometheus_config, our rules, 5 s evaluation), starts with an empty database,
so what other tests broke on purpose before this one is not in its windows.
Real traffic runs through the public API (SANDBOX_QUIET_LOAD_SECONDS, default
75: fifteen evaluation periods), and every alert that goes pending or firing
meanwhile is a false alarm."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from obs_support import require_tool

from tests.utils.api import eventually
from tests.utils.observe import Traffic, alerts_raised, instant, ready
from tests.utils.stack import free_port, stack_env, stack_module

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOAD_SECONDS = float(os.environ.get("SANDBOX_QUIET_LOAD_SECONDS", "75"))


def test_a_healthy_stack_under_steady_load_raises_no_alert(tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    config = stack_module().prometheus_config(tmp_path / "prometheus.yml")
    port = free_port()
    server = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = stack_env()
    admin = (env.get("SANDBOX_ADMIN_EMAIL"), env.get("SANDBOX_ADMIN_PASSWORD"))
    traffic = Traffic(
        {name: env[f"SANDBOX_{name.upper()}_URL"] for name in ("user", "catalog", "activity")},
        (admin[0], admin[1]) if admin[0] and admin[1] else None,
    )
    prometheus = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    raised: dict[str, str] = {}
    try:
        eventually(lambda: ready(prometheus), timeout=60, interval=1, what="its Prometheus ready")
        # Every process scraped before the clock starts: a target not yet scraped is no alarm.
        eventually(
            lambda: _scraped_jobs(prometheus) >= {"user", "catalog", "activity", "worker", "beat"},
            timeout=60, interval=1, what="the stack's processes scraped",
        )  # fmt: skip
        # ...and every rule evaluated since: an evaluation between the first scrape of
        # one job and of another saw a half-scraped stack, which is no alarm either.
        scraped = float(instant(prometheus, "vector(time())")[0]["value"][1])
        eventually(
            lambda: _evaluated_since(prometheus, scraped), timeout=60, interval=1,
            what="every rule group evaluated after the first full scrape",
        )  # fmt: skip

        def watch(turn: int) -> None:
            if turn % 10 == 0:
                raised.update({**alerts_raised(prometheus), **raised})

        turns = traffic.run(LOAD_SECONDS, on_turn=watch)
        watch(0)
    finally:
        traffic.close()
        prometheus.close()
        server.terminate()
        server.wait(timeout=30)
    assert turns > 20, "too little traffic to mean anything"
    assert not raised, f"alerts on a healthy stack: {raised}"


def _scraped_jobs(prometheus: httpx.Client) -> set[str]:
    return {series["metric"]["job"] for series in instant(prometheus, "up == 1")}


def _evaluated_since(prometheus: httpx.Client, moment: float) -> bool:
    groups = prometheus.get("/api/v1/rules").json()["data"]["groups"]
    return bool(groups) and all(_timestamp(group["lastEvaluation"]) > moment for group in groups)


def _timestamp(rfc3339: str) -> float:
    """Prometheus's nanosecond RFC 3339 time as seconds since the epoch."""
    trimmed = re.sub(r"(\.\d{6})\d*", r"\1", rfc3339).replace("Z", "+00:00")
    return datetime.fromisoformat(trimmed).timestamp()
