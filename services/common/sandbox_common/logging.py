"""structlog configured once per process: one processor chain, JSON objects
with Elastic Common Schema field names on stdout, and the standard library's
records (uvicorn, Celery, SQLAlchemy) rendered by the same chain."""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import datetime
import logging
import logging.config
import select
import sys
import threading
from typing import Any, BinaryIO, cast

import orjson
import structlog
from structlog.types import EventDict, Processor, WrappedLogger

# Keys whose values never reach a log line, wherever they appear.
SECRET_KEYS = frozenset(
    {
        "password",
        "current_password",
        "new_password",
        "token",
        "access_token",
        "refresh_token",
        "authorization",
        "secret",
        "client_secret",
    }
)
REDACTED = "[redacted]"

# structlog's own keys → ECS field names.
_RENAMES = {
    "event": "message",
    "level": "log.level",
    "logger": "log.logger",
    "timestamp": "@timestamp",
}


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in event_dict.keys() & SECRET_KEYS:
        event_dict[key] = REDACTED
    return event_dict


class EcsRenamer:
    """Renames structlog's keys to ECS and stamps ``service.name``."""

    def __init__(self, service: str) -> None:
        self._service = service

    def __call__(self, _: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for old, new in _RENAMES.items():
            if old in event_dict:
                event_dict[new] = event_dict.pop(old)
        event_dict["service.name"] = self._service
        if "exception" in event_dict:
            event_dict["error.stack_trace"] = event_dict.pop("exception")
        return event_dict


# How long a line written on a running event loop may wait to be written.
FLUSH_SECONDS = 0.1


class BufferedLines:
    """The byte stream our own lines go to. A line written on a running event
    loop waits up to ``FLUSH_SECONDS`` and goes out with every other line of
    that time; anywhere else it goes out at once. Each write to the
    descriptor holds whole lines, at most ``PIPE_BUF`` bytes of them (more
    than one line that long alone), so lines of several threads or worker
    processes sharing the stream never cut into each other.

    Written one by one, a busy service made two system calls for each
    request's access line (the write, and the ``getpid`` behind asking for
    the running loop), as many as answering the request took."""

    def __init__(self, stream: BinaryIO) -> None:
        # Past any buffer of the stream's own (the interpreter's is 8 KiB, and
        # none with PYTHONUNBUFFERED), which would cut lines where it fills.
        self._raw: BinaryIO = getattr(stream, "raw", stream)
        self._lines: collections.deque[bytes] = collections.deque()
        self._writing = threading.Lock()
        # The loop a write is due on: while it runs, a line only joins the
        # queue; a loop stopped before the write came is not waited for.
        self._due_on: asyncio.AbstractEventLoop | None = None

    def write(self, data: bytes) -> int:
        self._lines.append(data)
        return len(data)

    def flush(self) -> None:
        due_on = self._due_on
        if due_on is not None and due_on.is_running():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.write_out()
            return
        self._due_on = loop
        loop.call_later(FLUSH_SECONDS, self.write_out)

    def write_out(self) -> None:
        """Writes every line waiting, in order."""
        self._due_on = None
        with self._writing:
            parts: list[bytes] = []
            size = 0
            while self._lines:
                line = self._lines.popleft()
                if parts and size + len(line) > select.PIPE_BUF:
                    self._write_all(b"".join(parts))
                    parts, size = [], 0
                parts.append(line)
                size += len(line)
            if parts:
                self._write_all(b"".join(parts))
                self._raw.flush()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._raw.write(view) or 0 :]


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _dumps_bytes(obj: Any, **_: Any) -> bytes:
    return orjson.dumps(obj, default=str)


_LINE = orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z


class _JsonLines:
    """Where :func:`configure_logging` sends our JSON lines, and at what level."""

    output: BufferedLines | None = None
    level = logging.INFO
    service = ""


@atexit.register
def _write_out() -> None:
    if _JsonLines.output is not None:
        # A stream closed before the interpreter's end takes nothing more.
        with contextlib.suppress(ValueError, OSError):
            _JsonLines.output.write_out()


class AccessLog:
    """The access line of each request, as the processor chain renders a line
    (the same ECS fields, level, timestamp, service and request id) but in one
    orjson call. It is written for every request, and through the chain it
    cost as much CPU as the request metrics and the rest of the middleware
    together (docs/performance.md). In the console format the chain renders it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._chain = get_logger(name)

    def write(
        self,
        *,
        method: str,
        path: str,
        route: str,
        status: int,
        seconds: float,
        client_ip: str | None,
        request_id: str,
    ) -> None:
        """One request's line: at info, or at error for a 5xx."""
        error = status >= 500
        output = _JsonLines.output
        if output is not None and (logging.ERROR if error else logging.INFO) < _JsonLines.level:
            return
        line = {
            "http.request.method": method,
            "url.path": path,
            "http.route": route,
            "http.response.status_code": status,
            "event.duration": int(seconds * 1e9),
        }
        if client_ip is not None:
            line["client.ip"] = client_ip
        if output is None:
            (self._chain.error if error else self._chain.info)("request", **line)
            return
        line["log.logger"] = self._name
        line["request_id"] = request_id
        line["message"] = "request"
        line["log.level"] = "error" if error else "info"
        line["@timestamp"] = datetime.datetime.now(datetime.UTC)
        line["service.name"] = _JsonLines.service
        output.write(orjson.dumps(line, option=_LINE))
        output.flush()


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        redact_secrets,
    ]


def configure_logging(*, service: str, level: str = "INFO", fmt: str = "json") -> None:
    """One renderer on stdout for our own lines and the standard library's.

    Our lines take structlog's fast path (a filtering bound logger writing
    orjson bytes); records of uvicorn, Celery and SQLAlchemy go through
    ``ProcessorFormatter`` with the same processors, so both look the same.
    """
    shared = _shared_processors()
    if fmt == "console":
        final: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.dev.ConsoleRenderer(),
        ]
        own: list[Processor] = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.dev.ConsoleRenderer(),
        ]
        factory: Any = structlog.PrintLoggerFactory(sys.stdout)
        _JsonLines.output = None
    else:
        final = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            EcsRenamer(service),
            structlog.processors.JSONRenderer(serializer=_dumps),
        ]
        own = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
            redact_secrets,
            structlog.processors.format_exc_info,
            EcsRenamer(service),
            structlog.processors.JSONRenderer(serializer=_dumps_bytes),
        ]
        output = BufferedLines(sys.stdout.buffer)
        _JsonLines.output = output
        # BytesLogger needs only write() and flush().
        factory = structlog.BytesLoggerFactory(cast(BinaryIO, output))
    _JsonLines.level = logging.getLevelName(level.upper())
    _JsonLines.service = service
    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=final)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn and Celery install handlers of their own; send everything to the root instead.
    for name in ("uvicorn", "uvicorn.error", "celery", "celery.task", "celery.worker"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    # Our middleware writes the one access line per request.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Celery's per-task "received"/"succeeded" lines repeat every argument of
    # every task outside the task's context; our tasks log what they did, with
    # the request id, and the task metrics count the rest.
    logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)

    structlog.configure(
        processors=own,
        logger_factory=factory,
        wrapper_class=structlog.make_filtering_bound_logger(_JsonLines.level),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """Our logger for module ``name``; its lines carry ``log.logger`` like the stdlib's.

    A lazy proxy: modules take it at import, before :func:`configure_logging`
    runs, and it is built with the configuration in force at its first use.
    """
    return structlog.get_logger(**{"log.logger": name})
