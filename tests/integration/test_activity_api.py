"""Every row of the contract's activity table, with its bad inputs, against
the running activity service, the worker and the MongoDB-protocol server."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.utils.api import Account, assert_error, eventually, new_account, requests_counted
from tests.utils.catalog import create_product

EVENT_FIELDS = {"event_id", "type", "user_id", "object_id", "metadata", "occurred_at", "request_id"}


def post_event(activity: httpx.Client, account: Account, **body: Any) -> httpx.Response:
    payload = {"type": "product.viewed", "object_id": str(uuid.uuid4()), **body}
    return activity.post("/api/v1/activity/events", headers=account.headers, json=payload)


def feed(activity: httpx.Client, account: Account, **params: Any) -> dict[str, Any]:
    response = activity.get("/api/v1/activity/me", headers=account.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_feed(activity: httpx.Client, account: Account, count: int) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        items = feed(activity, account, limit=100)["items"]
        return items if len(items) >= count else None

    return eventually(check, what=f"{count} events in the feed")


def assert_trending(body: dict[str, Any], window: str, *, limit: int) -> None:
    """The trending envelope: its window, at most `limit` items, best first."""
    assert set(body) == {"window", "items", "degraded"}
    assert body["window"] == window
    assert isinstance(body["degraded"], bool)
    assert isinstance(body["items"], list)
    assert len(body["items"]) <= limit
    for item in body["items"]:
        assert set(item) == {"product_id", "name", "score"}
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


class TestRecordEvent:
    @pytest.mark.cross_process  # the worker stores the events
    def test_the_largest_metadata_the_schema_admits_is_stored(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        # 16 keys of 32 characters, values of 96 (some beyond ASCII): the 2 KiB cap exactly.
        metadata = {f"k{i:02d}".ljust(32, "x"): ("é" if i % 2 else "v") * 96 for i in range(16)}
        response = post_event(activity_api, account, metadata=metadata)
        assert response.status_code == 202, response.text
        event_id = response.json()["event_id"]
        items = wait_for_feed(activity_api, account, 2)  # with user.registered
        assert next(e for e in items if e["event_id"] == event_id)["metadata"] == metadata

    @pytest.mark.cross_process  # the worker stores the events
    def test_accepted_and_in_the_feed(self, activity_api: httpx.Client, account: Account) -> None:
        object_id = str(uuid.uuid4())
        response = post_event(activity_api, account, type="product.viewed", object_id=object_id,
                              metadata={"source": "test", "n": 1, "ok": True, "none": None})  # fmt: skip
        assert response.status_code == 202, response.text
        event_id = response.json()["event_id"]
        items = wait_for_feed(activity_api, account, 2)  # with user.registered
        mine = next(e for e in items if e["event_id"] == event_id)
        assert set(mine) == EVENT_FIELDS
        assert mine["user_id"] == account.id
        assert mine["object_id"] == object_id
        assert mine["metadata"] == {"source": "test", "n": 1, "ok": True, "none": None}
        assert mine["request_id"] == response.headers["x-request-id"]

    @pytest.mark.cross_process  # the worker stores the events
    def test_idempotency_key_stores_once(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        headers = {**account.headers, "Idempotency-Key": "order-42"}
        body = {"type": "product.viewed", "object_id": "p-1"}
        ids = {activity_api.post("/api/v1/activity/events", headers=headers, json=body).json()[
            "event_id"] for _ in range(3)}  # fmt: skip
        assert len(ids) == 1
        post_event(activity_api, account, object_id="marker")
        items = eventually(lambda: (i := feed(activity_api, account, limit=100)["items"]) and any(
            e["object_id"] == "marker" for e in i) and i, what="marker event")  # fmt: skip
        assert sum(1 for e in items if e["object_id"] == "p-1") == 1

    def test_requires_a_user(self, activity_api: httpx.Client) -> None:
        response = activity_api.post("/api/v1/activity/events",
                                     json={"type": "product.viewed", "object_id": "x"})  # fmt: skip
        assert_error(response, 401)

    @pytest.mark.parametrize(
        "body",
        [
            {"type": "product.bought", "object_id": "x"},
            # Only product.viewed is a client's to post: likes, registrations
            # and catalog writes are recorded by the services themselves.
            {"type": "product.liked", "object_id": "x"},
            {"type": "user.registered", "object_id": "x"},
            {"type": "product.created", "object_id": "x"},
            {"type": "product.deleted", "object_id": "x"},
            {"type": "PRODUCT.VIEWED", "object_id": "x"},
            {"object_id": "x"},
            {"type": "product.viewed"},
            {"type": "product.viewed", "object_id": ""},
            {"type": "product.viewed", "object_id": {"$gt": ""}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"$where": "1"}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"$set": {"role": "admin"}}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"a.b": 1}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"nested": {"a": 1}}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"list": [1, 2]}},
            {"type": "product.viewed", "object_id": "x",
             "metadata": {f"k{i}": i for i in range(17)}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"big": "x" * 2100}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"v": "x" * 97}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"k" * 33: 1}},
            {"type": "product.viewed", "object_id": "x", "metadata": {"n": "1" * 97}},
            {"type": "product.viewed", "object_id": "x", "metadata": "not an object"},
            {"type": "product.viewed", "object_id": "x", "user_id": str(uuid.uuid4())},
        ],
    )  # fmt: skip
    @pytest.mark.cross_process  # the worker stores the events
    def test_bad_events_are_422_and_nothing_is_stored(
        self, activity_api: httpx.Client, account: Account, service_env: dict[str, str],
        body: dict[str, Any],
    ) -> None:  # fmt: skip
        bad = f"bad-{uuid.uuid4().hex}"
        sent = {**body, "object_id": bad} if body.get("object_id") == "x" else body
        response = activity_api.post("/api/v1/activity/events", headers=account.headers, json=sent)
        assert_error(response, 422)
        # A good event after it: once that one is stored, the bad one would be too.
        marker = post_event(activity_api, account)
        assert marker.status_code == 202, marker.text
        marker_id = marker.json()["event_id"]
        items = eventually(lambda: (i := feed(activity_api, account, limit=100)["items"]) and any(
            e["event_id"] == marker_id for e in i) and i, what="marker event")  # fmt: skip
        others = [e for e in items if e["event_id"] != marker_id]
        assert all(e["type"] == "user.registered" and e["object_id"] == account.id
                   for e in others), others  # fmt: skip
        # Nor under anyone else (a body may name another user).
        mongo: MongoClient[dict[str, Any]] = MongoClient(service_env["SANDBOX_MONGO_URL"],
                                                         serverSelectionTimeoutMS=5000)  # fmt: skip
        with mongo:
            events = mongo[service_env.get("SANDBOX_MONGO_DATABASE", "activity")]["events"]
            assert events.count_documents({"object_id": bad}) == 0

    def test_nested_metadata_gets_one_clear_error(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        response = post_event(activity_api, account, metadata={"nested": {"a": 1}})
        (error,) = assert_error(response, 422)["detail"]
        assert "metadata must be a flat object" in error["msg"]

    def test_metadata_at_the_limits_is_accepted(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        sixteen = {f"k{i}": i for i in range(16)}
        assert post_event(activity_api, account, metadata=sixteen).status_code == 202

    def test_bad_idempotency_key_is_422(self, activity_api: httpx.Client, account: Account) -> None:
        headers = {**account.headers, "Idempotency-Key": "x" * 200}
        response = activity_api.post("/api/v1/activity/events", headers=headers,
                                     json={"type": "product.viewed", "object_id": "x"})  # fmt: skip
        assert_error(response, 422)


class TestEventIntakePaths:
    """A well-formed event posted as ``application/json`` is answered before
    FastAPI's routing (activity_service/event_intake.py); the same request
    with ``; charset=utf-8`` is not, and FastAPI's route answers it. Both
    must give the same answers, and what the layer leaves alone reaches
    FastAPI with its body."""

    FAST, ROUTED = "application/json", "application/json; charset=utf-8"

    @staticmethod
    def _answer(response: httpx.Response) -> tuple[Any, ...]:
        headers = {k: response.headers.get(k) for k in
                   ("content-type", "content-length", "www-authenticate", "retry-after")}  # fmt: skip
        body = response.json()
        assert body.pop("request_id", None) in (None, response.headers["x-request-id"])
        return response.status_code, tuple(headers.items()), json.dumps(body, sort_keys=True)

    def _post(self, activity: httpx.Client, content_type: str, body: Any,
              headers: dict[str, str]) -> httpx.Response:  # fmt: skip
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return activity.post("/api/v1/activity/events", content=content,
                             headers={**headers, "Content-Type": content_type})  # fmt: skip

    def test_both_paths_answer_alike(self, activity_api: httpx.Client, account: Account) -> None:
        good = {"type": "product.viewed", "object_id": f"intake-{uuid.uuid4().hex}"}
        key = {"Idempotency-Key": f"intake-{uuid.uuid4().hex}"}
        cases: list[tuple[Any, dict[str, str], int]] = [
            (good, {**account.headers, **key}, 202),  # the same key: the same event id
            (good, {}, 401),
            (good, {"Authorization": "Bearer not.a.token"}, 401),
            (good, {"Authorization": "Basic dXNlcjpwdw=="}, 401),
            ({**good, "type": "product.liked"}, account.headers, 422),
            (good, {**account.headers, "Idempotency-Key": "x" * 129}, 422),
            (b'{"type": "product.viewed",', account.headers, 422),
            (b"", account.headers, 422),
            (b"[" * 100_000, account.headers, 400),  # too deep for json.loads
        ]
        for body, headers, status in cases:
            answers = {self._answer(self._post(activity_api, content_type, body, headers))
                       for content_type in (self.FAST, self.ROUTED)}  # fmt: skip
            assert len(answers) == 1, (body, headers, answers)
            assert next(iter(answers))[0] == status, answers

    def test_what_the_layer_leaves_alone_reaches_fastapi_with_its_body(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        response = self._post(activity_api, self.FAST, {"type": "product.viewed",
                              "object_id": "x", "metadata": {"nested": {"a": 1}}},
                              account.headers)  # fmt: skip
        (error,) = assert_error(response, 422)["detail"]
        assert error["loc"][:2] == ["body", "metadata"], error

    def test_an_event_taken_before_routing_is_counted_under_its_route(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        accepted = partial(requests_counted, activity_api, "/api/v1/activity/events", "POST")
        before = accepted()
        for _ in range(3):
            assert post_event(activity_api, account).status_code == 202
        assert accepted() - before == 3


class TestFeeds:
    @pytest.mark.cross_process  # the worker stores the events
    def test_newest_first_with_before_pages(
        self, activity_api: httpx.Client, account: Account
    ) -> None:
        for n in range(7):
            assert post_event(activity_api, account, object_id=f"obj-{n}").status_code == 202
        wait_for_feed(activity_api, account, 8)
        seen: list[dict[str, Any]] = []
        before = None
        while True:
            page = feed(activity_api, account, limit=3, **({"before": before} if before else {}))
            assert len(page["items"]) <= 3
            seen += page["items"]
            before = page["next_before"]
            if before is None:
                break
        assert len(seen) == 8
        assert len({e["event_id"] for e in seen}) == 8
        times = [e["occurred_at"] for e in seen]
        assert times == sorted(times, reverse=True)
        assert all(e["user_id"] == account.id for e in seen)

    @pytest.mark.cross_process  # the worker stores the events
    def test_only_the_callers_own_events(
        self, activity_api: httpx.Client, account: Account, user_api: httpx.Client
    ) -> None:
        other = new_account(user_api)
        post_event(activity_api, other, object_id="not-yours")
        wait_for_feed(activity_api, other, 2)
        assert all(e["object_id"] != "not-yours" for e in feed(activity_api, account)["items"])

    # Not a cursor's shape (base64url) is 422; of its shape but not issued here, 400.
    @pytest.mark.parametrize(
        ("before", "status"),
        [("garbage", 400), ("WyJ4Il0", 400), ("WyJub3QtYS1kYXRlIiwieCJd", 400), ("%%", 422)],
    )
    def test_bad_before(
        self, activity_api: httpx.Client, account: Account, before: str, status: int
    ) -> None:
        response = activity_api.get("/api/v1/activity/me", headers=account.headers,
                                    params={"before": before})  # fmt: skip
        assert_error(response, status)

    @pytest.mark.parametrize("limit", [0, 101])
    def test_bad_limit_is_422(
        self, activity_api: httpx.Client, account: Account, limit: int
    ) -> None:
        response = activity_api.get("/api/v1/activity/me", headers=account.headers,
                                    params={"limit": limit})  # fmt: skip
        assert_error(response, 422)

    @pytest.mark.cross_process  # the worker stores the events
    def test_admin_reads_any_users_feed(
        self, activity_api: httpx.Client, account: Account, admin: Account
    ) -> None:
        post_event(activity_api, account, object_id="admin-can-see")
        items = eventually(lambda: (i := activity_api.get(
            f"/api/v1/activity/users/{account.id}", headers=admin.headers).json()["items"])
            and any(e["object_id"] == "admin-can-see" for e in i) and i,
            what="event in the admin view")  # fmt: skip
        assert all(e["user_id"] == account.id for e in items)

    def test_user_feeds_are_admin_only(
        self, activity_api: httpx.Client, account: Account, admin: Account
    ) -> None:
        path = f"/api/v1/activity/users/{account.id}"
        assert_error(activity_api.get(path, headers=account.headers), 403)
        assert_error(activity_api.get(path), 401)
        assert_error(activity_api.get("/api/v1/activity/users/not-a-uuid",
                                      headers=admin.headers), 422)  # fmt: skip


class TestStatsAndTrending:
    def test_stats_of_an_unknown_product_are_zeros(self, activity_api: httpx.Client) -> None:
        product_id = str(uuid.uuid4())
        response = activity_api.get(f"/api/v1/activity/products/{product_id}/stats")
        assert response.status_code == 200
        assert response.json() == {"product_id": product_id, "views": 0, "likes": 0,
                                   "unique_users": 0}  # fmt: skip

    @pytest.mark.cross_process  # the worker stores the events
    def test_stats_count_views_likes_and_users(
        self, activity_api: httpx.Client, user_api: httpx.Client, catalog_api: httpx.Client,
        admin: Account,
    ) -> None:  # fmt: skip
        product_id = create_product(catalog_api, admin)["id"]
        a, b = new_account(user_api), new_account(user_api)
        for who in (a, a, b):
            assert post_event(activity_api, who, object_id=product_id).status_code == 202
        # A like is the catalog's to record (a client may post only views).
        liked = catalog_api.post(f"/api/v1/products/{product_id}/like", headers=b.headers)
        assert liked.status_code == 204, liked.text
        path = f"/api/v1/activity/products/{product_id}/stats"
        stats = eventually(
            lambda: (s := activity_api.get(path).json())["views"] + s["likes"] == 4 and s,
            what="4 events counted",
        )
        assert stats == {"product_id": product_id, "views": 3, "likes": 1, "unique_users": 2}

    def test_bad_product_id_is_422(self, activity_api: httpx.Client) -> None:
        assert_error(activity_api.get("/api/v1/activity/products/%24ne/stats"), 422)

    @pytest.mark.parametrize("window", ["1h", "24h", "7d"])
    def test_trending_shape(self, activity_api: httpx.Client, window: str) -> None:
        """The envelope, whatever is trending (in-process, where no worker
        stores events, nothing is)."""
        response = activity_api.get("/api/v1/activity/trending",
                                    params={"window": window, "limit": 5})  # fmt: skip
        assert response.status_code == 200
        assert_trending(response.json(), window, limit=5)

    @pytest.mark.cross_process  # the worker stores the view, beat ranks it
    def test_trending_lists_viewed_products(
        self, activity_api: httpx.Client, catalog_api: httpx.Client, admin: Account,
        account: Account,
    ) -> None:  # fmt: skip
        product_id = create_product(catalog_api, admin)["id"]
        assert post_event(activity_api, account, object_id=product_id).status_code == 202
        path = f"/api/v1/activity/products/{product_id}/stats"
        eventually(lambda: activity_api.get(path).json()["views"] == 1, what="the view stored")

        def listing(window: str) -> dict[str, Any] | None:
            response = activity_api.get("/api/v1/activity/trending",
                                        params={"window": window, "limit": 5})  # fmt: skip
            body: dict[str, Any] = response.json()
            return body if body["items"] else None

        for window in ("1h", "24h", "7d"):
            # Within a window now: at least one product, once beat has ranked it.
            body = eventually(partial(listing, window), timeout=90, interval=2,
                              what=f"a product trending in {window}")  # fmt: skip
            assert_trending(body, window, limit=5)
            for item in body["items"]:
                assert uuid.UUID(item["product_id"])
                assert item["name"] is None or isinstance(item["name"], str)
                assert item["score"] > 0

    @pytest.mark.parametrize("params", [{"window": "2h"}, {"limit": 0}, {"limit": 51}])
    def test_bad_trending_parameters_are_422(
        self, activity_api: httpx.Client, params: dict[str, object]
    ) -> None:
        assert_error(activity_api.get("/api/v1/activity/trending", params=params), 422)
