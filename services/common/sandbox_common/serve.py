"""``sandbox-serve <service>``: run a service's HTTP server.

With ``SANDBOX_WEB_CONCURRENCY`` above 1, uvicorn starts that many worker
processes and metrics switch to prometheus-client's multiprocess mode (the
directory is emptied first: files of a previous run would be summed in).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
from pathlib import Path

from sandbox_common.settings import CommonSettings
from sandbox_common.topology import SERVICES

# Shorter than the pod's termination grace period (30 s by default).
GRACEFUL_SHUTDOWN_SECONDS = 20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sandbox-serve")
    parser.add_argument("service", choices=sorted(SERVICES))
    args = parser.parse_args(argv)
    settings = service_settings(args.service)
    workers = settings.web_concurrency
    if workers > 1:
        # prometheus-client's own variable: it picks its mode from it at import.
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", f"/tmp/sandbox-metrics-{args.service}")  # noqa: S108
    # Before anything imports prometheus-client: it picks its mode at import,
    # and the metrics created then write to files in the directory.
    prepare_multiprocess_dir()
    import uvicorn

    from sandbox_common.logging import configure_logging

    configure_logging(
        service=args.service,
        level=settings.log_level,
        fmt=settings.log_format,
    )
    uvicorn.run(
        f"{args.service}_service.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=True,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def prepare_multiprocess_dir() -> None:
    """Empty the multiprocess directory before any metric exists; stale files
    of an earlier run would be summed in."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def service_settings(service: str) -> CommonSettings:
    """The service's own Settings (``<service>_service.config:<Service>Settings``).
    Invalid settings stop the server here, before it binds its port."""
    config = importlib.import_module(f"{service}_service.config")
    settings_class: type[CommonSettings] = getattr(config, f"{service.capitalize()}Settings")
    return settings_class()


if __name__ == "__main__":
    main(sys.argv[1:])
