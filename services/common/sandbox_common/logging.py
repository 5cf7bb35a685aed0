"""structlog configured once per process: one processor chain, JSON objects
with Elastic Common Schema field names on stdout, and the standard library's
records (uvicorn, Celery, SQLAlchemy) rendered by the same chain."""

from __future__ import annotations

import asyncio
import logging
import logging.config
import sys
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


class TurnFlushedOutput:
    """The byte stream our own lines go to: a line written on a running event
    loop is flushed once per turn of the loop, with every other line of that
    turn (one write to stdout where a busy service answered several requests),
    and right away anywhere else. A line waits microseconds, never for more
    traffic."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        # The loop a flush is due on; a loop closed before its turn came
        # leaves no flag behind for the next one.
        self._due_on: asyncio.AbstractEventLoop | None = None

    def write(self, data: bytes) -> int:
        return self._raw.write(data)

    def flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._raw.flush()
            return
        if self._due_on is not loop:
            self._due_on = loop
            loop.call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._due_on = None
        self._raw.flush()


def _dumps(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _dumps_bytes(obj: Any, **_: Any) -> bytes:
    return orjson.dumps(obj, default=str)


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
        # BytesLogger needs only write() and flush().
        factory = structlog.BytesLoggerFactory(cast(BinaryIO, TurnFlushedOutput(sys.stdout.buffer)))
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
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> Any:
    """Our logger for module ``name``; its lines carry ``log.logger`` like the stdlib's.

    A lazy proxy: modules take it at import, before :func:`configure_logging`
    runs, and it is built with the configuration in force at its first use.
    """
    return structlog.get_logger(**{"log.logger": name})
