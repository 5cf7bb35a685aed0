"""A small HTTP server for processes without a web framework (the Celery
worker and beat): ``/metrics``, ``/healthz`` and ``/readyz``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox_common.health import HEALTH_PATH, METRICS_PATH, READY_PATH
from sandbox_common.metrics import render_latest


def serve_metrics(
    port: int,
    *,
    ready: Callable[[], bool] = lambda: True,
    host: str,
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith(METRICS_PATH):
                body, content_type = render_latest()
                self._answer(200, body, content_type)
            elif self.path == HEALTH_PATH:
                self._answer(200, b'{"status":"ok"}', "application/json")
            elif self.path == READY_PATH:
                ok = _safe(ready)
                body = b'{"status":"ready"}' if ok else b'{"status":"unready"}'
                self._answer(200 if ok else 503, body, "application/json")
            else:
                self._answer(404, b'{"detail":"Not Found"}', "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # scrapes are not news
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    return server


def _safe(check: Callable[[], bool]) -> bool:
    try:
        return check()
    except Exception:
        return False
