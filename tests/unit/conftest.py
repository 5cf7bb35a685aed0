"""Fixtures of the unit tests."""

from __future__ import annotations

import pytest
from celery import Celery


@pytest.fixture(scope="session")
def worker_app() -> Celery:
    """The worker's Celery app as it is built in production, on a broker address
    nothing listens on: for what it registers and how its tasks behave, eagerly."""
    from sandbox_worker.app import WorkerSettings, create_worker_app

    return create_worker_app(
        WorkerSettings(broker_url="redis://127.0.0.1:1/0", redis_url="redis://127.0.0.1:1/1")
    )
