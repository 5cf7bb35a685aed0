"""One pure ASGI middleware for what every request needs: its id, its metrics
and its access line. (``BaseHTTPMiddleware`` would cost throughput and break
contextvars.) Unhandled exceptions end here as a contract-shaped 500, or, once
the response has started, go on to the server, which aborts the connection."""

from __future__ import annotations

import time

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox_common import metrics
from sandbox_common.context import REQUEST_ID_HEADER, accept_request_id
from sandbox_common.health import OPERATIONAL_PATHS
from sandbox_common.logging import AccessLog, get_logger

_HEADER = REQUEST_ID_HEADER.lower().encode()
_log = AccessLog("sandbox.access")
_error_log = get_logger("sandbox.error")
UNMATCHED = "<unmatched>"


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, observe: bool = True) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Probes and scrapes are not clients' requests: they keep their request
        # id but are neither counted nor logged.
        observe = self.observe and scope["path"] not in OPERATIONAL_PATHS

        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER:
                incoming = value.decode("latin-1")
                break
        request_id = accept_request_id(incoming)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        rid_header = (_HEADER, request_id.encode())

        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        start = time.perf_counter()
        if observe:
            metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            _error_log.exception("unhandled error", **{"url.path": scope.get("path")})
            status = 500
            if started:
                # Too late for a 500: the status line is gone. Raising lets the
                # server abort the connection, so the client sees a broken
                # response rather than a short one that looks complete.
                raise
            await _send_500(send, request_id, rid_header)
        finally:
            elapsed = time.perf_counter() - start
            if observe:
                metrics.HTTP_IN_FLIGHT.dec()
                self._record(scope, status, elapsed, request_id)
            structlog.contextvars.clear_contextvars()

    @staticmethod
    def _record(scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        route = route_template(scope)
        method = scope["method"]
        metrics.observe_request(route, method, status, elapsed)
        client = scope.get("client")
        _log.write(
            method=method,
            path=scope["path"],
            route=route,
            status=status,
            seconds=elapsed,
            client_ip=client[0] if client else None,
            request_id=request_id,
        )


async def _send_500(send: Send, request_id: str, rid_header: tuple[bytes, bytes]) -> None:
    body = orjson.dumps({"detail": "Internal server error", "request_id": request_id})
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                rid_header,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
