"""A service with several worker processes reports the metrics of all of
them (prometheus-client's multiprocess mode), from a directory emptied at
start."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tests.utils.api import eventually
from tests.utils.stack import free_port

REQUESTS_PER_ROUND = 40
ROUNDS = 10


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
        sent = 0
        with httpx.Client(base_url=base) as client:
            # A new connection each time, so both processes get some; another
            # round while one has none yet (the kernel picks who accepts).
            # (Probes are not counted; an unmatched route is, as <unmatched>.)
            for _ in range(ROUNDS):
                for _ in range(REQUESTS_PER_ROUND):
                    missing = client.get("/api/v1/no-such-route", headers={"Connection": "close"})
                    assert missing.status_code == 404
                    sent += 1
                if all(served_by_each_process(metrics_dir).values()):
                    break

        def all_counted() -> dict[str, float] | None:
            found = served_by_each_process(metrics_dir)
            return found if sum(found.values()) == sent else None

        # A process counts a request just after answering it.
        per_process = eventually(all_counted, timeout=10, what=f"all {sent} requests in the files")
        exposition = httpx.get(f"{base}/metrics")
        assert exposition.status_code == 200
        exposed = unmatched(exposition.text)
        assert len(per_process) == 2, f"metric files of {len(per_process)} processes"
        assert all(served > 0 for served in per_process.values()), per_process
        # The exposition is the sum of the processes' own counts, and nothing else.
        assert exposed == sum(per_process.values()) == sent, (exposed, per_process, sent)
    finally:
        server.terminate()
        server.wait(timeout=30)


def unmatched(text: str) -> float:
    """The <unmatched> route's request count in an exposition."""
    return sum(
        float(m.group(1))
        for m in re.finditer(
            r'^sandbox_http_requests_total\{[^}]*route="<unmatched>"[^}]*\} ([0-9.e+]+)$',
            text,
            re.MULTILINE,
        )  # fmt: skip
    )


def served_by_each_process(metrics_dir: Path) -> dict[str, float]:
    """Each process's <unmatched> count from its own counter file alone (a copy in
    a directory of its own, read as the exposition reads a directory)."""
    served: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        with tempfile.TemporaryDirectory() as directory:
            shutil.copy(path, Path(directory) / path.name)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            served[path.stem.removeprefix("counter_")] = unmatched(
                generate_latest(registry).decode()
            )
    return served


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
