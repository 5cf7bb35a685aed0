"""A service with several worker processes reports the metrics of all of
them (prometheus-client's multiprocess mode), from a directory emptied at
start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.utils.api import eventually
from tests.utils.stack import free_port


def test_two_worker_processes_share_one_exposition(env: dict[str, str], tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_99999.db"
    stale.write_bytes(b"left over from an earlier run")
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "sandbox-serve"), "user"],
        env={
            **os.environ,
            **env,
            "SANDBOX_PORT": str(port),
            "SANDBOX_WEB_CONCURRENCY": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ok(f"{base}/healthz"), timeout=60, what="two-process user service")
        assert not stale.exists(), "stale multiprocess files survived the start"
        requests = 40
        with httpx.Client(base_url=base) as client:
            for _ in range(requests):
                # A new connection each time, so both processes get some.
                # (Probes are not counted; an unmatched route is, as <unmatched>.)
                missing = client.get("/api/v1/no-such-route", headers={"Connection": "close"})
                assert missing.status_code == 404
        text = httpx.get(f"{base}/metrics").text
        served = sum(
            float(m.group(1))
            for m in re.finditer(
                r'^sandbox_http_requests_total\{[^}]*route="<unmatched>"[^}]*\} ([0-9.e+]+)$',
                text,
                re.MULTILINE,
            )  # fmt: skip
        )
        assert served >= requests
        pids = {p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(pids) == 2, f"metric files of {len(pids)} processes"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
