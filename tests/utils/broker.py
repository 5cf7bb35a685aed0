"""A producer-only Celery app for tests that publish tasks themselves."""

from __future__ import annotations

from celery import Celery

from sandbox_common.celery import create_celery
from sandbox_common.settings import CommonSettings


def producer(env: dict[str, str]) -> Celery:
    settings = CommonSettings(
        redis_url=env["SANDBOX_REDIS_URL"], broker_url=env["SANDBOX_BROKER_URL"]
    )
    return create_celery(settings, main="tests")
