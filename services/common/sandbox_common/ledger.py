"""At-least-once delivery on top of the Redis broker.

kombu's Redis transport takes a message off its queue (``BRPOP``) and only
then records it as unacknowledged; a worker killed between the two loses that
message for good. So every task we publish is also written to a ledger in the
broker's Redis before it is sent, and removed when the task has finished
(succeeded, or failed for good). Beat re-sends what stays in the ledger longer
than ``SANDBOX_REDELIVER_AFTER_SECONDS`` unless it still waits in its queue
(no worker running, say): that one is not lost. A task retried with a countdown
counts its age from the retry, so one merely waiting for its countdown is not
re-sent (countdowns are far shorter than the re-send delay). A task delivered
and not yet acknowledged is re-sent: the ledger cannot tell one still running from one
whose worker died while holding kombu's restore lock, which keeps kombu from
restoring anything for minutes. Tasks are idempotent, so a task sent twice
does its work once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
import redis

INDEX = "sandbox:ledger:index"  # sorted set: task id → when (re)sent
DATA = "sandbox:ledger:data"  # hash: task id → {"name", "kwargs", "queue", "headers"}
# kombu's Redis transport: a queue is a list (one more per priority step).
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


class TaskLedger:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str) -> TaskLedger:
        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5))

    def record(self, task_id: str, entry: dict[str, Any]) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(DATA, task_id, orjson.dumps(entry))
            pipe.zadd(INDEX, {task_id: time.time()}, nx=True)
            pipe.execute()

    def touch(self, task_id: str) -> None:
        """Count the entry's age from now: its task was sent again (a retry
        with a countdown, which a worker holds unacknowledged until it is due)."""
        self._redis.zadd(INDEX, {task_id: time.time()}, xx=True)

    def settle(self, task_id: str) -> None:
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zrem(INDEX, task_id)
            pipe.hdel(DATA, task_id)
            pipe.execute()

    def due(self, *, older_than: float, limit: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Entries sent more than ``older_than`` seconds ago, marked as sent now."""
        cutoff = time.time() - older_than
        found = self._redis.zrangebyscore(INDEX, 0, cutoff, start=0, num=limit)
        ids = [i.decode() if isinstance(i, bytes) else str(i) for i in found]
        if not ids:
            return []
        raw = self._redis.hmget(DATA, ids)
        due, gone = [], []
        for task_id, value in zip(ids, raw, strict=True):
            if value is None:
                gone.append(task_id)
            else:
                due.append((task_id, orjson.loads(value)))
        with self._redis.pipeline(transaction=False) as pipe:
            if gone:
                pipe.zrem(INDEX, *gone)
            if due:
                pipe.zadd(INDEX, {task_id: time.time() for task_id, _ in due}, xx=True)
            pipe.execute()
        return due

    def queued(self, queues: Iterable[str]) -> set[str]:
        """Ids of the tasks still waiting in these queues."""
        with self._redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                for suffix in PRIORITY_SUFFIXES:
                    pipe.lrange(queue + suffix, 0, -1)
            waiting = pipe.execute()
        messages = [orjson.loads(raw) for batch in waiting for raw in batch]
        return {task_id for message in messages if (task_id := _task_id(message)) is not None}


def _task_id(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    headers, properties = message.get("headers") or {}, message.get("properties") or {}
    task_id = headers.get("id") or properties.get("correlation_id")
    return task_id if isinstance(task_id, str) else None
