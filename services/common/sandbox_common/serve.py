"""``sandbox-serve <service>``: run a service's HTTP server.

With ``SANDBOX_WEB_CONCURRENCY`` above 1, uvicorn starts that many worker
processes and metrics switch to prometheus-client's multiprocess mode (the
directory is emptied first: files of a previous run would be summed in).
"""

from __future__ import annotations

import argparse
import os
import sys

SERVICES = {
    "user": ("user_service.main:create_app", 8001),
    "catalog": ("catalog_service.main:create_app", 8002),
    "activity": ("activity_service.main:create_app", 8003),
}
# Shorter than the pod's termination grace period (30 s by default).
GRACEFUL_SHUTDOWN_SECONDS = 20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sandbox-serve")
    parser.add_argument("service", choices=sorted(SERVICES))
    args = parser.parse_args(argv)
    factory, default_port = SERVICES[args.service]

    workers = int(os.environ.get("SANDBOX_WEB_CONCURRENCY", "1"))
    if workers > 1:
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", f"/tmp/sandbox-metrics-{args.service}")  # noqa: S108
    # Import after the environment is final: prometheus-client picks its mode at import.
    import uvicorn

    from sandbox_common.logging import configure_logging
    from sandbox_common.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir()
    configure_logging(
        service=args.service,
        level=os.environ.get("SANDBOX_LOG_LEVEL", "INFO"),
        fmt=os.environ.get("SANDBOX_LOG_FORMAT", "json"),
    )
    uvicorn.run(
        factory,
        factory=True,
        host=os.environ.get("SANDBOX_HOST", "0.0.0.0"),  # noqa: S104
        port=int(os.environ.get("SANDBOX_PORT", default_port)),
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
