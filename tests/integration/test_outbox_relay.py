"""The outbox relay: two relays at once send every row exactly once (``FOR UPDATE SKIP
LOCKED``), in a catalog database of the test's own so the stack's relay
stays out of it."""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import redis
from sqlalchemy.dialects import postgresql

from catalog_service.tasks import relay_batch
from sandbox_common.db import create_sync_db
from sandbox_common.ledger import TaskLedger
from sandbox_common.outbox import forget_sent
from tests.utils.broker import producer
from tests.utils.databases import plain_url, temporary_database

ROWS = 2000
DATABASE = "catalog_relay_test"


@pytest.fixture
def outbox_db(env: dict[str, str]) -> Iterator[str]:
    with temporary_database(env, "catalog", DATABASE) as url:
        yield url


def test_two_relays_send_each_row_once(env: dict[str, str], outbox_db: str) -> None:
    plain = plain_url(outbox_db)
    event_ids = [str(uuid.uuid4()) for _ in range(ROWS)]
    with psycopg.connect(plain) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO outbox (event) VALUES (%s)",
            [(json.dumps({"event_id": e, "type": "product.created", "object_id": "x"}),)
             for e in event_ids],
        )  # fmt: skip
    queue = f"relay-test-{uuid.uuid4().hex[:8]}"
    app = producer(env)
    db = create_sync_db(outbox_db, pool_size=4)

    def relay(_: int) -> int:
        sent = 0
        while count := relay_batch(db, app, queue=queue):
            sent += count
        return sent

    with ThreadPoolExecutor(max_workers=2) as pool:
        per_relay = list(pool.map(relay, range(2)))
    db.dispose()

    broker = redis.Redis.from_url(env["SANDBOX_BROKER_URL"])
    messages = broker.lrange(queue, 0, -1)
    broker.delete(queue)
    published: Counter[str] = Counter()
    ledger = TaskLedger(broker)
    for raw in messages:
        message = json.loads(raw)
        ledger.settle(message["headers"]["id"])
        body = json.loads(base64.b64decode(message["body"]))
        for event in body[1]["events"]:
            published[event["event_id"]] += 1
    assert sum(per_relay) == ROWS
    assert all(n > 0 for n in per_relay), f"one relay did all the work: {per_relay}"
    assert set(published) == set(event_ids)
    assert max(published.values()) == 1
    with psycopg.connect(plain) as conn:
        assert conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone() == (0,)


@pytest.mark.parametrize(("service", "model"), [("catalog", "OutboxEvent"), ("user", "OutboxTask")])
def test_an_index_serves_forgetting_sent_rows(
    env: dict[str, str], service: str, model: str
) -> None:
    """The relay runs this delete after every run: an index must serve it, not
    a read of the whole table (sequential scans are priced out to show it)."""
    models = importlib.import_module(f"{service}_service.models")
    statement = forget_sent(getattr(models, model)).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    with (
        temporary_database(env, service, f"{service}_forget_test") as url,
        psycopg.connect(plain_url(url)) as conn,
    ):
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {statement}"))
    assert "ix_outbox_sent" in plan, plan
