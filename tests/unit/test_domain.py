"""Pure domain rules of the three services."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from activity_service import db, event_intake, trending
from activity_service.events import event_id_for, parse_events
from activity_service.schemas import EventCreate
from catalog_service import product_reads
from catalog_service.schemas import IDS_PATTERN, MAX_IDS
from catalog_service.service import etag, etag_matches, parse_ids
from sandbox_common.auth import Principal
from sandbox_common.celery import route_by_service
from sandbox_common.contract import Tasks, to_stored_time
from user_service import security


class TestEventValidation:
    def test_a_good_event(self) -> None:
        event = EventCreate(type="product.viewed", object_id="p-1", metadata={"a": 1, "b": None})
        assert event.metadata == {"a": 1, "b": None}

    @pytest.mark.parametrize(
        "metadata",
        [{"$gt": 1}, {"a.b": 1}, {"": 1}, {"x" * 65: 1}, {"n": {"a": 1}}, {"l": [1]},
         {f"k{i}": 1 for i in range(17)}, {"big": "x" * 2100}],
    )  # fmt: skip
    def test_bad_metadata(self, metadata: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            EventCreate(type="product.viewed", object_id="p", metadata=metadata)

    @pytest.mark.parametrize(
        "type_", ["product.bought", "product.liked", "user.registered", "product.created"]
    )
    def test_a_client_posts_only_product_viewed(self, type_: str) -> None:
        with pytest.raises(ValidationError):
            EventCreate(type=type_, object_id="p")  # type: ignore[arg-type]

    def test_task_events_are_validated_the_same_way(self) -> None:
        good = {"event_id": str(uuid.uuid4()), "type": "product.viewed",
                "user_id": str(uuid.uuid4()), "object_id": "p", "metadata": {},
                "occurred_at": "2026-01-01T00:00:00.123456+00:00"}  # fmt: skip
        bad = {**good, "metadata": {"$set": 1}}
        valid, rejected = parse_events([good, bad, {"nonsense": True}])
        assert rejected == 2
        assert valid[0].occurred_at.microsecond == 123000

    def test_idempotency_keys_are_per_user(self) -> None:
        a = event_id_for(user_id="u1", idempotency_key="k")
        assert a == event_id_for(user_id="u1", idempotency_key="k")
        assert a != event_id_for(user_id="u2", idempotency_key="k")
        assert event_id_for(user_id="u1", idempotency_key=None) != a

    def test_stored_time_is_utc_milliseconds(self) -> None:
        stored = to_stored_time(datetime(2026, 1, 1, 12, 0, 0, 999999))
        assert stored.tzinfo == UTC
        assert stored.microsecond == 999000


class TestRetentionAndIndexes:
    def test_ferretdb_gets_the_purge_mongodb_the_ttl(self) -> None:
        assert db.expiry_mode("auto", {"version": "7.0.42", "ferretdbVersion": "v1"}) == "purge"
        assert db.expiry_mode("auto", {"version": "8.0.3"}) == "ttl"
        assert db.expiry_mode("purge", {"version": "8.0.3"}) == "purge"

    def test_indexes(self) -> None:
        names = {m.document["name"] for m in db.index_models(expiry="ttl", retention_days=30)}
        assert names == {"uq_event_id", "user_id_occurred_at", "object_id_type",
                         "type_occurred_at", db.TTL_INDEX}  # fmt: skip
        ttl = next(m.document for m in db.index_models(expiry="ttl", retention_days=2)
                   if m.document["name"] == db.TTL_INDEX)  # fmt: skip
        assert ttl["expireAfterSeconds"] == 2 * 86400


def test_trending_weights_likes_ranks_and_keeps_only_products() -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    ranking = trending.combine({
        "product.viewed": [{"_id": a, "n": 5}, {"_id": b, "n": 1}, {"_id": "not-a-product", "n": 9}],
        "product.liked": [{"_id": b, "n": 2}],
    })  # fmt: skip
    assert ranking == [{"product_id": b, "score": 7.0}, {"product_id": a, "score": 5.0}]


def test_a_long_windows_ranking_is_computed_again_less_often() -> None:
    """1h at every run of a 30 s schedule, even one that comes late; 24h after
    12 min; 7d after 84 min."""
    assert trending.stale_after("1h").total_seconds() == 30
    assert trending.stale_after("24h").total_seconds() == 720
    assert trending.stale_after("7d").total_seconds() == 5040
    ranking = b'[{"product_id": "p", "score": 1.0}]'
    for window, fresh_for in (("1h", 19), ("24h", 709), ("7d", 5029)):
        ttl = trending.cache_ttl_seconds(window)
        assert ttl >= 2 * trending.stale_after(window).total_seconds()
        assert not trending.is_due(window, ranking, ttl - fresh_for)  # written fresh_for s ago
        assert trending.is_due(window, ranking, ttl - fresh_for - 1)
    # A 30 s run, written 5 s into the last one (its queries), comes 25 s after the write.
    assert trending.is_due("1h", ranking, trending.cache_ttl_seconds("1h") - 25)


def test_a_missing_or_empty_ranking_is_always_due() -> None:
    assert trending.is_due("7d", None, -2)  # no key
    assert trending.is_due("7d", b"[]", trending.cache_ttl_seconds("7d"))  # empty, just set
    assert trending.is_due("7d", b'[{"product_id": "p", "score": 1.0}]', -1)  # no expiry


class TestCatalogRules:
    def test_etags(self) -> None:
        tag = etag(b'{"id": 1}')
        assert etag_matches(tag, tag)
        assert etag_matches(f'"x", W/{tag}', tag)
        assert etag_matches("*", tag)
        assert not etag_matches('"other"', tag)
        assert not etag_matches(None, tag)

    def test_ids(self) -> None:
        def ids(n: int) -> str:
            return ",".join(str(uuid.uuid4()) for _ in range(n))

        for good in (ids(1), ids(MAX_IDS), ids(2).upper()):
            assert re.fullmatch(IDS_PATTERN, good)
            assert parse_ids(good) == [uuid.UUID(p) for p in good.split(",")]
        for bad in ("", "nope", ids(MAX_IDS + 1), ids(2).replace(",", " , "), ids(1) + ","):
            assert not re.fullmatch(IDS_PATTERN, bad)
        assert parse_ids(None) is None


class TestCelery:
    def test_routes_by_owning_service(self) -> None:
        assert route_by_service(Tasks.SEND_WELCOME) == {"queue": "user"}
        assert route_by_service(Tasks.RECORD_EVENTS) == {"queue": "activity"}
        assert route_by_service("celery.backend_cleanup") is None


class TestPasswords:
    def test_hash_is_argon2id_and_verifies(self) -> None:
        hashed = security.hash_password("correct horse")
        assert hashed.startswith("$argon2id$")
        assert security.verify_password(hashed, "correct horse")
        assert not security.verify_password(hashed, "wrong horse")
        assert not security.verify_password(None, "anything")
        assert not security.verify_password("not a hash", "anything")

    def test_owasp_parameters_and_an_older_hash_is_redone(self) -> None:
        hashed = security.hash_password("correct horse")
        assert "$m=19456,t=2,p=1$" in hashed
        assert not security.needs_rehash(hashed)
        # argon2-cffi's defaults, which earlier releases stored: still verify, redone at login.
        from argon2 import PasswordHasher

        old = PasswordHasher().hash("correct horse")
        assert security.verify_password(old, "correct horse")
        assert security.needs_rehash(old)


class TestProductReadsTakes:
    """Which requests the catalog answers before FastAPI's routing
    (catalog_service/product_reads.py); everything else is FastAPI's."""

    ID = "1575551c-b74d-4a4c-a618-765e14f71d75"

    @staticmethod
    def _scope(path: str, method: str = "GET") -> dict[str, Any]:
        return {"type": "http", "method": method, "path": path, "headers": []}

    def test_a_get_of_a_canonical_id(self) -> None:
        taken = product_reads._product_id(self._scope(f"/api/v1/products/{self.ID}"))
        assert taken == uuid.UUID(self.ID)

    @pytest.mark.parametrize(
        ("path", "method"),
        [
            (f"/api/v1/products/{ID}", "POST"),
            (f"/api/v1/products/{ID}", "HEAD"),
            (f"/api/v1/products/{ID}/", "GET"),
            (f"/api/v1/products/{ID}/like", "GET"),
            (f"/api/v1/products/{ID.upper()}", "GET"),
            (f"/api/v1/products/{ID.replace('-', '')}", "GET"),
            (f"/api/v1/products/{{{ID}}}", "GET"),
            ("/api/v1/products/" + "x" * 36, "GET"),
            ("/api/v1/products/1-2345678123456781234567812345678-12-", "GET"),
            ("/api/v1/products", "GET"),
            (f"/api/v1/categories/{ID}", "GET"),
        ],
    )
    def test_anything_else_goes_on(self, path: str, method: str) -> None:
        assert product_reads._product_id(self._scope(path, method)) is None


JSON = (b"content-type", b"application/json")
AUTH = (b"authorization", b"Bearer t")
GOOD = json.dumps({"type": "product.viewed", "object_id": "p-1"}).encode()


class TestEventIntakeTakes:
    """Which posts the activity service answers before FastAPI's routing
    (activity_service/event_intake.py), and that what it leaves alone
    reaches FastAPI (here a stand-in app) with every message it was sent."""

    PATH = "/api/v1/activity/events"

    class _Verifier:
        async def verify(self, token: str) -> Principal:
            return Principal(user_id=str(uuid.uuid4()), role="user", token_id="t")

    class _Publisher:
        def __init__(self) -> None:
            self.events: list[Any] = []

        async def submit(self, event: Any, *, wait: bool) -> None:
            self.events.append(event)

    def _run(
        self, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]],
        method: str = "POST", path: str = PATH,
    ) -> tuple[list[Any], list[Any], list[Any]]:  # fmt: skip
        """What the stand-in app received, what was sent back, and what was published."""
        inner_got: list[Any] = []
        publisher = self._Publisher()
        state = type("State", (), {})()
        state.token_verifier, state.event_publisher = self._Verifier(), publisher
        app = type("App", (), {})()
        app.state = state

        async def inner(scope: Any, receive: Any, send: Any) -> None:
            while True:
                message = await receive()
                inner_got.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    return

        async def main() -> list[Any]:
            pending, sent = list(messages), []

            async def receive() -> dict[str, Any]:
                return pending.pop(0) if pending else {"type": "http.disconnect"}

            async def send(message: Any) -> None:
                sent.append(message)

            scope = {"type": "http", "method": method, "path": path, "headers": headers,
                     "app": app}  # fmt: skip
            await event_intake.EventIntake(inner)(scope, receive, send)
            return sent

        sent = asyncio.run(main())
        return inner_got, sent, publisher.events

    def test_a_well_formed_event_is_answered_here(self) -> None:
        got, sent, published = self._run([{"type": "http.request", "body": GOOD}], [JSON, AUTH])
        assert got == []
        assert sent[0]["status"] == 202
        assert [e.object_id for e in published] == ["p-1"]

    def test_a_body_in_pieces_is_read_whole(self) -> None:
        half = len(GOOD) // 2
        got, sent, published = self._run(
            [{"type": "http.request", "body": GOOD[:half], "more_body": True},
             {"type": "http.request", "body": GOOD[half:]}],
            [JSON, AUTH],
        )  # fmt: skip
        assert got == []
        assert sent[0]["status"] == 202
        assert len(published) == 1

    @pytest.mark.parametrize(
        ("messages", "headers"),
        [
            ([{"type": "http.request", "body": b'{"type": "product.liked", "object_id": "p"}'}],
             [JSON, AUTH]),
            ([{"type": "http.request", "body": GOOD}],
             [(b"content-type", b"application/json; charset=utf-8"), AUTH]),
            ([{"type": "http.request", "body": GOOD}], [AUTH]),
            ([{"type": "http.request", "body": GOOD}], [JSON, AUTH, (b"idempotency-key", b"")]),
            ([{"type": "http.request", "body": GOOD}],
             [JSON, AUTH, (b"idempotency-key", b"k" * 129)]),
            ([{"type": "http.request", "body": b"[" * 100_000}], [JSON, AUTH]),
            ([{"type": "http.request", "body": GOOD[:5], "more_body": True},
              {"type": "http.disconnect"}], [JSON, AUTH]),
            ([{"type": "http.request", "body": GOOD[:5], "more_body": True},
              {"type": "http.request", "body": b"}"}], [JSON, AUTH]),
        ],
    )  # fmt: skip
    def test_anything_else_reaches_fastapi_with_every_message(
        self, messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]]
    ) -> None:
        got, sent, published = self._run(messages, headers)
        assert got == messages
        assert sent == []
        assert published == []

    @pytest.mark.parametrize(("method", "path"), [("GET", PATH), ("POST", PATH + "/"),
                                                  ("POST", "/api/v1/activity/me")])  # fmt: skip
    def test_other_routes_are_not_read(self, method: str, path: str) -> None:
        messages = [{"type": "http.request", "body": GOOD}]
        got, sent, _ = self._run(messages, [JSON, AUTH], method=method, path=path)
        assert got == messages
        assert sent == []
