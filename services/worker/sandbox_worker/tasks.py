"""Maintenance tasks that belong to no one service."""

from __future__ import annotations

from celery import current_app, shared_task

from sandbox_common.celery import redeliver as redeliver_from_ledger
from sandbox_common.contract import Tasks


@shared_task(name=Tasks.REDELIVER)
def redeliver(older_than: float) -> int:
    """Re-send tasks the ledger still holds (lost between broker and worker)."""
    return redeliver_from_ledger(current_app, older_than=older_than)
