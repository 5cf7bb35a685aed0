"""The sandbox's processes and the ports they listen on by default: the one
place these are written. Standard library only, so the load tests' image
can carry this file alone.

The Helm chart cannot import Python; ``tests/deploy/test_chart.py`` checks
its values agree with these.
"""

from __future__ import annotations

from typing import Final

SERVICE_PORTS: Final[dict[str, int]] = {"user": 8001, "catalog": 8002, "activity": 8003}
SERVICES: Final[tuple[str, ...]] = tuple(SERVICE_PORTS)
WORKER_METRICS_PORT: Final = 9101
BEAT_METRICS_PORT: Final = 9102
# Every process of the sandbox's image and the port it serves (HTTP, or /metrics).
PROCESS_PORTS: Final[dict[str, int]] = {
    **SERVICE_PORTS,
    "worker": WORKER_METRICS_PORT,
    "beat": BEAT_METRICS_PORT,
}


def local_url(service: str) -> str:
    """The service's base URL on this machine at its default port."""
    return f"http://127.0.0.1:{SERVICE_PORTS[service]}"
