"""The one Celery configuration: Redis broker, a queue per owning service,
late acknowledgement, re-delivery when a worker dies, the request id carried
in task headers, and task metrics.

Task names are ``<service>.tasks.<name>``; the service prefix picks the queue.
Producers publish by name (``send_task``) so no service imports another's code.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from celery import Celery, signals
from celery.app.task import Task

from sandbox_common import metrics
from sandbox_common.context import current_request_id, is_valid_request_id
from sandbox_common.ledger import TaskLedger
from sandbox_common.logging import get_logger
from sandbox_common.resources import PerProcess
from sandbox_common.settings import CommonSettings

QUEUES = ("user", "catalog", "activity")
_log = get_logger("sandbox.celery")


def route_by_service(name: str, *_: Any, **__: Any) -> dict[str, str] | None:
    prefix = name.split(".", 1)[0]
    return {"queue": prefix} if prefix in QUEUES else None


def create_celery(settings: CommonSettings, *, main: str) -> Celery:
    app = Celery(main, broker=settings.broker_url, set_as_current=True)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_routes=(route_by_service,),
        task_default_queue="activity",
        task_create_missing_queues=True,
        # Enforced by sandbox_common.timelimits: the worker's threads pool ignores them.
        task_time_limit=60,
        task_soft_time_limit=50,
        worker_prefetch_multiplier=8,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_pool_limit=10,
        broker_transport_options={
            # Longer than the longest task plus its largest retry delay, so a
            # running task is never handed to a second worker.
            "visibility_timeout": settings.broker_visibility_timeout,
            # Sweep for tasks of a dead worker a few times per visibility timeout
            # (kombu's default sweeps about every 100 s, whatever the timeout).
            "unacked_restore_interval": max(2, settings.broker_visibility_timeout // 4),
            "unacked_restore_throttle": 1,
            "socket_timeout": 5,
            "socket_connect_timeout": 5,
            "retry_on_timeout": True,
        },
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 3,
            "interval_start": 0.1,
            "interval_step": 0.3,
            "interval_max": 1.0,
        },
        beat_schedule={},
    )
    return app


_ledgers: dict[str, PerProcess[TaskLedger]] = {}


def ledger_for(app: Celery) -> TaskLedger:
    url = str(app.conf.broker_url)
    if url not in _ledgers:
        _ledgers[url] = PerProcess(lambda: TaskLedger.from_url(url))
    return _ledgers[url].get()


def publish(
    app: Celery,
    name: str,
    *,
    kwargs: dict[str, Any],
    request_id: str | None = None,
    queue: str | None = None,
    task_id: str | None = None,
) -> str:
    """Send a task by name, recorded in the ledger first (see :mod:`sandbox_common.ledger`).

    The request id rides along in the headers. Returns the task id.
    """
    task_id = task_id or str(uuid.uuid4())
    queue = queue or (route_by_service(name) or {}).get("queue") or app.conf.task_default_queue
    headers = {"request_id": request_id or current_request_id()}
    ledger_for(app).record(
        task_id, {"name": name, "kwargs": kwargs, "queue": queue, "headers": headers}
    )
    app.send_task(name, kwargs=kwargs, headers=headers, queue=queue, task_id=task_id)
    return task_id


def redeliver(app: Celery, *, older_than: float) -> int:
    """Send again what the ledger still holds after ``older_than`` seconds,
    unless it still waits in its queue (see :mod:`sandbox_common.ledger`)."""
    ledger = ledger_for(app)
    due = ledger.due(older_than=older_than)
    if due:
        waiting = ledger.queued({entry["queue"] for _, entry in due})
        due = [(task_id, entry) for task_id, entry in due if task_id not in waiting]
    for task_id, entry in due:
        app.send_task(entry["name"], kwargs=entry["kwargs"], headers=entry.get("headers") or {},
                      queue=entry["queue"], task_id=task_id)  # fmt: skip
    if due:
        _log.warning("tasks redelivered from the ledger", count=len(due))
    return len(due)


# -- signal handlers, connected once per process ---------------------------------------------

_connected = False
_started_at: dict[str, float] = {}


def _on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None and not headers.get("request_id"):
        request_id = current_request_id()
        if request_id:
            headers["request_id"] = request_id


def _task_request_id(task: Task) -> str | None:
    value = getattr(task.request, "request_id", None)
    if value is None and isinstance(task.request.headers, dict):
        value = task.request.headers.get("request_id")
    return value if isinstance(value, str) and is_valid_request_id(value) else None


def _on_prerun(task_id: str, task: Task, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        request_id=_task_request_id(task), **{"celery.task": task.name, "celery.task_id": task_id}
    )
    _started_at[task_id] = time.perf_counter()
    metrics.CELERY_TASKS.labels(task.name, "started").inc()


def _on_postrun(task_id: str, task: Task, **_: Any) -> None:
    started = _started_at.pop(task_id, None)
    if started is not None:
        metrics.CELERY_TASK_DURATION.labels(task.name).observe(time.perf_counter() - started)
    structlog.contextvars.clear_contextvars()


def _state_counter(state: str) -> Callable[..., None]:
    def handler(sender: Task | None = None, **_: Any) -> None:
        name = getattr(sender, "name", None) or "unknown"
        metrics.CELERY_TASKS.labels(name, state).inc()

    return handler


def _settle(sender: Task | None = None, task_id: str | None = None, **_: Any) -> None:
    # Succeeded, or failed for good (a retry fires task_retry instead): done either way.
    task_id = task_id or getattr(getattr(sender, "request", None), "id", None)
    if sender is not None and task_id:
        try:
            ledger_for(sender.app).settle(task_id)
        except Exception as exc:  # the task's work is done; a stale entry is only re-sent
            _log.warning("ledger settle failed", error=type(exc).__name__)


_on_success = _state_counter("succeeded")
_on_failure = _state_counter("failed")


def _on_retry(
    sender: Task | None = None, request: Any = None, reason: Any = None, **_: Any
) -> None:
    name = getattr(request, "task", None) or "unknown"
    metrics.CELERY_TASKS.labels(name, "retried").inc()
    _log.warning("task retry", reason=str(reason))
    task_id = getattr(request, "id", None)
    if sender is not None and task_id:
        try:
            ledger_for(sender.app).touch(task_id)  # its countdown is not a loss
        except Exception as exc:  # at worst the retry is sent once more
            _log.warning("ledger touch failed", error=type(exc).__name__)


def connect_signals() -> None:
    global _connected
    if _connected:
        return
    signals.before_task_publish.connect(_on_publish, weak=False)
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)
    signals.task_success.connect(_on_success, weak=False)
    signals.task_failure.connect(_on_failure, weak=False)
    signals.task_success.connect(_settle, weak=False)
    signals.task_failure.connect(_settle, weak=False)
    signals.task_retry.connect(_on_retry, weak=False)
    _connected = True


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth a retry: a dependency that may answer on the next try."""
    from kombu.exceptions import OperationalError as BrokerError
    from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import InterfaceError, OperationalError

    return (
        OperationalError,
        InterfaceError,
        BrokerError,
        AutoReconnect,
        ConnectionFailure,
        NetworkTimeout,
        RedisConnectionError,
        RedisTimeoutError,
        ConnectionError,
        TimeoutError,
    )


# Options every writing task shares: retried with exponential backoff and full
# jitter on transient errors only, never past the visibility timeout. Ten
# retries suit periodic work (relays, purges): the next tick does it again, and
# a long outage does not pile up a retrying copy of every tick.
RETRY_OPTIONS: dict[str, Any] = {
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}

# A task whose message is the only copy of its work (accepted events, an
# erasure, a welcome) is retried until its dependency is back, a minute apart
# at most: ten retries with full jitter can be spent in under a minute of a
# datastore restart, and a task that gives up loses what was accepted. A long
# outage, or an error that never heals, shows as retries with no success
# (`sandbox_celery_tasks_total{state="retried"}`, the alert
# SandboxTaskRetryingWithoutSuccess), not as loss.
RETRY_UNTIL_DONE: dict[str, Any] = {**RETRY_OPTIONS, "max_retries": None}
