"""``sandbox-worker`` and ``sandbox-beat``: Celery with logging through our
renderer and ``/metrics`` on ``SANDBOX_METRICS_PORT``."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import time
from typing import Any

import redis
from celery import signals
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from sandbox_common import metrics
from sandbox_common.celery import QUEUES
from sandbox_common.contract import TASK_NAMES
from sandbox_common.logging import configure_logging, get_logger
from sandbox_common.metrics_server import serve_metrics
from sandbox_common.timelimits import TimeLimits
from sandbox_worker.app import BeatSettings, WorkerSettings, create_worker_app

_log = get_logger(__name__)
RESTART_DELAY_SECONDS = 3


class QueueLengthCollector(Collector):
    """Queue depth read from the broker at scrape time."""

    def __init__(self, broker_url: str) -> None:
        self._redis = redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1)

    def collect(self) -> Any:
        family = GaugeMetricFamily(
            "sandbox_celery_queue_length", "Messages waiting in a broker queue.", labels=["queue"]
        )
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for queue in QUEUES:
                    pipe.llen(queue)
                lengths = pipe.execute()
        except redis.RedisError:
            return
        for queue, length in zip(QUEUES, lengths, strict=True):
            family.add_metric([queue], float(length))
        yield family

    def ping(self) -> bool:
        return bool(self._redis.ping())

    def reachable(self) -> bool:
        try:
            return self.ping()
        except redis.RedisError:
            return False


def _settings(component: str) -> WorkerSettings:
    settings = (BeatSettings if component == "beat" else WorkerSettings)()  # type: ignore[call-arg]
    configure_logging(service=component, level=settings.log_level, fmt=settings.log_format)
    metrics.set_build_info(component, "0.1.0")
    return settings


def worker() -> None:
    settings = _settings("worker")
    app = create_worker_app(settings)
    metrics.initialize_task_series(TASK_NAMES)
    # Queue depth is exported by beat alone (one process), not once per worker replica.
    collector = QueueLengthCollector(settings.broker_url)
    # Consuming: started, not stopping, and its broker answers (a worker whose
    # broker is gone is up but consumes nothing). Read at every scrape, and by /readyz.
    started = threading.Event()

    def consuming() -> bool:
        return started.is_set() and collector.reachable()

    metrics.CELERY_WORKER_UP.set_function(lambda: 1.0 if consuming() else 0.0)
    serve_metrics(settings.metrics_port, host=settings.host, ready=consuming)

    @signals.worker_ready.connect(weak=False)
    def _up(**_: Any) -> None:
        started.set()
        _log.info("worker ready", queues=settings.worker_queues)

    @signals.worker_shutting_down.connect(weak=False)
    def _down(**_: Any) -> None:
        started.clear()

    # The threads pool ignores Celery's time limits; this enforces them.
    TimeLimits(app, on_hard_limit=_restart_past_hard_limit).install()

    controller: dict[str, Any] = {}

    @signals.celeryd_init.connect(weak=False)
    def _keep(instance: Any = None, **_: Any) -> None:
        controller["worker"] = instance

    app.start(
        argv=[
            "worker",
            "--pool=threads",
            f"--concurrency={settings.worker_concurrency}",
            f"--queues={settings.worker_queues}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=worker-{os.getpid()}@%h",
        ]
    )
    # app.start swallows the exit code; the worker object still has it.
    code = getattr(controller.get("worker"), "exitcode", 0)
    if code in (0, None):
        return
    # Celery gives up on some broker failures (a Redis restart can leave kombu
    # without a connection to close). Start again, same pid, after a pause: the
    # broker is usually back by then, and nothing is lost (tasks are
    # acknowledged late, and the ledger re-sends the rest).
    _log.error("worker stopped on an unrecoverable error; restarting", code=code)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a stop request still stops us
    time.sleep(RESTART_DELAY_SECONDS)
    os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606


def _restart_past_hard_limit(task: str, task_id: str) -> None:
    """A task ignored its soft limit and is past its hard one. A thread cannot
    be stopped, so the process starts again, as prefork replaces a child; tasks
    are acknowledged late, so what it held goes back to the queue."""
    _log.error("restarting the worker: a task is past its hard time limit", task=task,
               task_id=task_id)  # fmt: skip
    os.execv(sys.executable, [sys.executable, *sys.argv])  # noqa: S606


def beat() -> None:
    settings = _settings("beat")
    app = create_worker_app(settings)
    REGISTRY.register(QueueLengthCollector(settings.broker_url))
    serve_metrics(settings.metrics_port, host=settings.host)

    @signals.before_task_publish.connect(weak=False)
    def _tick(**_: Any) -> None:
        metrics.CELERY_BEAT_LAST_TICK.set_to_current_time()

    schedule = os.path.join(tempfile.gettempdir(), f"sandbox-beat-{os.getuid()}.db")
    app.Beat(schedule=schedule, loglevel=settings.log_level).run()
