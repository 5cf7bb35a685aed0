"""Task time limits in Celery's threads pool, which ignores them by itself:
a real in-process Celery worker with the threads pool runs the tasks (on an
in-memory broker: a unit test)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.exceptions import SoftTimeLimitExceeded

from sandbox_common.timelimits import TimeLimits

SOFT, HARD = 0.5, 2.0


@pytest.fixture
def app() -> Celery:
    app = Celery("time-limits-test", broker="memory://", set_as_current=False)
    app.conf.update(task_soft_time_limit=SOFT, task_time_limit=HARD, task_ignore_result=True)
    return app


@pytest.fixture
def hard_limits(app: Celery) -> Iterator[list[str]]:
    reached: list[str] = []
    limits = TimeLimits(app, on_hard_limit=lambda task, task_id: reached.append(task))
    limits.install()
    yield reached
    limits.uninstall()


def run_in_worker(app: Celery, task: object, done: threading.Event) -> None:
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False):
        task.delay()  # type: ignore[attr-defined]
        assert done.wait(15), "the task was never stopped"


def test_a_task_over_its_soft_limit_is_stopped(app: Celery, hard_limits: list[str]) -> None:
    stopped = threading.Event()

    @app.task(name="t.forever")
    def forever() -> None:
        try:
            while True:  # a loop that would run until the worker dies
                time.sleep(0.05)
        except SoftTimeLimitExceeded:
            stopped.set()
            raise

    run_in_worker(app, forever, stopped)
    assert hard_limits == []


def test_a_task_that_ignores_the_soft_limit_reaches_the_hard_one(
    app: Celery, hard_limits: list[str]
) -> None:
    reported = threading.Event()

    @app.task(name="t.stubborn")
    def stubborn() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not hard_limits:
            with contextlib.suppress(
                SoftTimeLimitExceeded
            ):  # swallowed: only the hard limit is left
                time.sleep(0.05)
        reported.set()

    run_in_worker(app, stubborn, reported)
    assert hard_limits == ["t.stubborn"]
