"""Celery's task time limits, enforced in the ``threads`` pool, which ignores
them (only prefork and gevent apply ``task_soft_time_limit`` and
``task_time_limit``). The broker hands an unacknowledged task to another
worker after its visibility timeout; the limits, shorter than that timeout,
are what makes "a running task is never handed to a second worker" true.

- Soft limit: ``SoftTimeLimitExceeded`` is raised in the task's own thread, at
  its next Python instruction. A thread waiting in a socket call gets it when
  the call returns, and every client the tasks use has a socket timeout.
- Hard limit: a task still running has ignored the soft one (caught it, or is
  stuck in C code); a thread cannot be killed, so ``on_hard_limit`` is called
  (the worker restarts its process, as prefork replaces a child; tasks are
  acknowledged late, so what it held goes back to the queue).
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded

from sandbox_common.logging import get_logger

_log = get_logger(__name__)


@dataclass
class _Running:
    task: str
    task_id: str
    started: float
    soft: float | None
    hard: float | None
    warned: bool = False


class TimeLimits:
    """Watches the tasks this process runs; ``install`` connects it to Celery."""

    def __init__(
        self, app: Celery, *, on_hard_limit: Callable[[str, str], None], interval: float = 0.1
    ) -> None:
        self._app = app
        self._on_hard_limit = on_hard_limit
        self._interval = interval
        self._running: dict[int, _Running] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def install(self) -> None:
        signals.task_prerun.connect(self._started, weak=False)
        signals.task_postrun.connect(self._finished, weak=False)
        threading.Thread(target=self._watch, name="task-time-limits", daemon=True).start()

    def uninstall(self) -> None:
        signals.task_prerun.disconnect(self._started)
        signals.task_postrun.disconnect(self._finished)
        self._stop.set()

    def _limits(self, task: Any) -> tuple[float | None, float | None]:
        conf = self._app.conf
        soft = getattr(task, "soft_time_limit", None) or conf.task_soft_time_limit
        hard = getattr(task, "time_limit", None) or conf.task_time_limit
        return soft, hard

    def _started(self, task_id: str = "", task: Any = None, **_: Any) -> None:
        soft, hard = self._limits(task)
        with self._lock:
            self._running[threading.get_ident()] = _Running(
                getattr(task, "name", "?"), task_id, time.monotonic(), soft, hard
            )

    def _finished(self, **_: Any) -> None:
        with self._lock:
            run = self._running.pop(threading.get_ident(), None)
        if run is not None and run.warned:
            _clear_in(threading.get_ident())  # one not delivered yet must not hit the pool

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        """Stop what is over its soft limit; report what is over its hard one."""
        with self._lock:
            running = list(self._running.items())
        for thread_id, run in running:
            elapsed = now - run.started
            if run.hard is not None and elapsed > run.hard:
                _log.error("task over its hard time limit", task=run.task, task_id=run.task_id,
                           seconds=round(elapsed, 1))  # fmt: skip
                with self._lock:
                    self._running.pop(thread_id, None)
                self._on_hard_limit(run.task, run.task_id)
            elif run.soft is not None and elapsed > run.soft and not run.warned:
                run.warned = True
                _log.warning("task over its soft time limit: stopping it", task=run.task,
                             task_id=run.task_id, seconds=round(elapsed, 1))  # fmt: skip
                _raise_in(thread_id, SoftTimeLimitExceeded)


def _raise_in(thread_id: int, exception: type[BaseException]) -> None:
    """Raise ``exception`` in another thread of this process (CPython's own way)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception)
    )


def _clear_in(thread_id: int) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), None)
