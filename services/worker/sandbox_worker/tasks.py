"""Maintenance tasks that belong to no one service."""

from __future__ import annotations

from celery import current_app, shared_task

from sandbox_common.celery import redeliver as redeliver_from_ledger


@shared_task(name="sandbox.tasks.redeliver")
def redeliver(older_than: float) -> int:
    """Re-send tasks the ledger still holds (lost between broker and worker)."""
    return redeliver_from_ledger(current_app, older_than=older_than)
