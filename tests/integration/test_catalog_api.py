"""Every row of the contract's catalog table, with its bad inputs, against the
running catalog service, its PostgreSQL and its Redis cache."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis
from pymongo import MongoClient

from sandbox_common import ledger
from tests.utils.api import Account, assert_error, eventually, requests_counted
from tests.utils.catalog import create_product, ensure_category

PRODUCT_FIELDS = {"id", "sku", "name", "description", "price", "currency", "category", "stock",
                  "created_at", "updated_at"}  # fmt: skip


class TestCategories:
    def test_create_and_list(self, catalog_api: httpx.Client, admin: Account) -> None:
        slug = f"cat-{uuid.uuid4().hex[:8]}"
        created = catalog_api.post("/api/v1/categories", headers=admin.headers,
                                   json={"slug": slug, "name": "Things"})  # fmt: skip
        assert created.status_code == 201
        assert created.json()["slug"] == slug
        listed = catalog_api.get("/api/v1/categories")
        assert listed.status_code == 200
        assert slug in {c["slug"] for c in listed.json()["items"]}

    def test_duplicate_slug_is_409(self, catalog_api: httpx.Client, admin: Account) -> None:
        slug = ensure_category(catalog_api, admin, f"dup-{uuid.uuid4().hex[:8]}")
        again = catalog_api.post("/api/v1/categories", headers=admin.headers,
                                 json={"slug": slug, "name": "Again"})  # fmt: skip
        assert_error(again, 409)

    @pytest.mark.parametrize("slug", ["Upper", "has space", "-lead", "x" * 65, "semi;colon"])
    def test_bad_slug_is_422(self, catalog_api: httpx.Client, admin: Account, slug: str) -> None:
        response = catalog_api.post("/api/v1/categories", headers=admin.headers,
                                    json={"slug": slug, "name": "x"})  # fmt: skip
        assert_error(response, 422)

    def test_non_admin_writes_are_refused(
        self, catalog_api: httpx.Client, account: Account
    ) -> None:
        body = {"slug": "nope", "name": "Nope"}
        assert_error(catalog_api.post("/api/v1/categories", json=body), 401)
        assert_error(
            catalog_api.post("/api/v1/categories", headers=account.headers, json=body), 403
        )


class TestProductWrites:
    def test_create_returns_the_product(self, catalog_api: httpx.Client, admin: Account) -> None:
        slug = ensure_category(catalog_api, admin)
        product = create_product(catalog_api, admin, price="10.5", category=slug, stock=3)
        assert set(product) == PRODUCT_FIELDS
        assert product["price"] == "10.50"  # a decimal string with two places
        assert product["currency"] == "USD"
        assert product["category"] == slug

    def test_duplicate_sku_is_409(self, catalog_api: httpx.Client, admin: Account) -> None:
        product = create_product(catalog_api, admin)
        again = catalog_api.post("/api/v1/products", headers=admin.headers,
                                 json={"sku": product["sku"], "name": "x", "price": "1.00"})  # fmt: skip
        assert_error(again, 409)

    @pytest.mark.parametrize(
        "fields",
        [
            {"price": "-1.00"},
            {"price": "1.001"},
            {"price": "abc"},
            {"price": 1e30},
            {"price": 10},  # a JSON number: its binary value may not be the price meant
            {"price": "10\n"},
            {"currency": "usd"},
            {"stock": -1},
            {"stock": "5"},
            {"stock": True},
            {"name": ""},
            {"name": " \t "},
            {"name": "a\u0000b"},  # PostgreSQL's text cannot hold it
            {"sku": "has space"},
            {"sku": " padded "},
            {"unknown_field": 1},
        ],
    )
    def test_bad_product_fields_are_422(
        self, catalog_api: httpx.Client, admin: Account, fields: dict[str, object]
    ) -> None:
        body = {"sku": f"T-{uuid.uuid4().hex[:10]}", "name": "n", "price": "1.00", **fields}
        assert_error(catalog_api.post("/api/v1/products", headers=admin.headers, json=body), 422)

    def test_an_unknown_category_is_409(self, catalog_api: httpx.Client, admin: Account) -> None:
        body = {"sku": f"T-{uuid.uuid4().hex[:10]}", "name": "n", "price": "1.00",
                "category": "no-such-category"}  # fmt: skip
        error = assert_error(catalog_api.post("/api/v1/products", headers=admin.headers,
                                              json=body), 409)  # fmt: skip
        assert "Unknown category" in error["detail"]

    def test_names_are_trimmed_and_stock_may_be_a_whole_float(
        self, catalog_api: httpx.Client, admin: Account
    ) -> None:
        product = create_product(catalog_api, admin, name="\u3000 Lamp \n", stock=2.0)
        assert (product["name"], product["stock"]) == ("Lamp", 2)

    def test_non_admin_writes_are_refused(
        self, catalog_api: httpx.Client, admin: Account, account: Account
    ) -> None:
        product = create_product(catalog_api, admin)
        path = f"/api/v1/products/{product['id']}"
        body = {"sku": "X-1", "name": "n", "price": "1.00"}
        assert_error(catalog_api.post("/api/v1/products", headers=account.headers, json=body), 403)
        assert_error(catalog_api.patch(path, headers=account.headers, json={"name": "x"}), 403)
        assert_error(catalog_api.delete(path, headers=account.headers), 403)
        assert_error(catalog_api.delete(path), 401)
        assert catalog_api.get(path).json()["name"] == product["name"]

    def test_update_changes_only_what_is_sent(
        self, catalog_api: httpx.Client, admin: Account
    ) -> None:
        product = create_product(catalog_api, admin, stock=5)
        response = catalog_api.patch(f"/api/v1/products/{product['id']}", headers=admin.headers,
                                     json={"price": "25", "name": "Renamed"})  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["price"] == "25.00"
        assert body["name"] == "Renamed"
        assert body["stock"] == 5
        assert body["updated_at"] > product["updated_at"]

    def test_an_update_answers_with_the_category_it_set(
        self, catalog_api: httpx.Client, admin: Account
    ) -> None:
        first = ensure_category(catalog_api, admin, f"move-{uuid.uuid4().hex[:8]}")
        second = ensure_category(catalog_api, admin, f"move-{uuid.uuid4().hex[:8]}")
        product = create_product(catalog_api, admin, category=first)
        path = f"/api/v1/products/{product['id']}"
        for category in (second, None, first):
            response = catalog_api.patch(path, headers=admin.headers, json={"category": category})
            assert response.status_code == 200, response.text
            assert response.json()["category"] == category
            assert catalog_api.get(path).json()["category"] == category

    @pytest.mark.parametrize("fields", [{"name": None}, {"price": "-3"}, {"id": str(uuid.uuid4())}])
    def test_bad_updates_are_422(
        self, catalog_api: httpx.Client, admin: Account, fields: dict[str, object]
    ) -> None:
        product = create_product(catalog_api, admin)
        response = catalog_api.patch(f"/api/v1/products/{product['id']}", headers=admin.headers,
                                     json=fields)  # fmt: skip
        assert_error(response, 422)

    def test_update_or_delete_unknown_is_404(
        self, catalog_api: httpx.Client, admin: Account
    ) -> None:
        path = f"/api/v1/products/{uuid.uuid4()}"
        assert_error(catalog_api.patch(path, headers=admin.headers, json={"name": "x"}), 404)
        assert_error(catalog_api.delete(path, headers=admin.headers), 404)

    def test_delete(self, catalog_api: httpx.Client, admin: Account) -> None:
        product = create_product(catalog_api, admin)
        path = f"/api/v1/products/{product['id']}"
        assert catalog_api.get(path).status_code == 200  # now cached
        deleted = catalog_api.delete(path, headers=admin.headers)
        assert deleted.status_code == 204
        assert_error(catalog_api.get(path), 404)  # and not served from the cache


class TestProductRead:
    def test_etag_and_304(self, catalog_api: httpx.Client, admin: Account) -> None:
        product = create_product(catalog_api, admin)
        path = f"/api/v1/products/{product['id']}"
        first = catalog_api.get(path)
        assert first.status_code == 200
        assert first.json() == product
        tag = first.headers["etag"]
        cached = catalog_api.get(path, headers={"If-None-Match": tag})
        assert cached.status_code == 304
        assert cached.content == b""
        assert catalog_api.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        catalog_api.patch(path, headers=admin.headers, json={"stock": 99})
        changed = catalog_api.get(path, headers={"If-None-Match": tag})
        assert changed.status_code == 200
        assert changed.json()["stock"] == 99
        assert changed.headers["etag"] != tag

    def test_no_stale_read_after_any_write(self, catalog_api: httpx.Client, admin: Account) -> None:
        product = create_product(catalog_api, admin)
        path = f"/api/v1/products/{product['id']}"
        for stock in range(1, 16):
            catalog_api.get(path)  # fill the cache
            assert catalog_api.patch(path, headers=admin.headers,
                                     json={"stock": stock}).status_code == 200  # fmt: skip
            assert catalog_api.get(path).json()["stock"] == stock

    def test_reads_racing_writes_never_end_stale(
        self, catalog_api: httpx.Client, admin: Account
    ) -> None:
        product = create_product(catalog_api, admin)
        path = f"/api/v1/products/{product['id']}"

        def reader(_: int) -> None:
            for _ in range(20):
                catalog_api.get(path)

        for stock in range(1, 6):
            with ThreadPoolExecutor(max_workers=6) as pool:
                readers = [pool.submit(reader, i) for i in range(5)]
                write = catalog_api.patch(path, headers=admin.headers, json={"stock": stock})
                assert write.status_code == 200
                # Once the write has returned, no reader may see the old product.
                assert catalog_api.get(path).json()["stock"] == stock
                for future in readers:
                    future.result()
            assert catalog_api.get(path).json()["stock"] == stock

    @pytest.mark.parametrize("product_id", ["not-a-uuid", "1 OR 1=1", "00000000-0000"])
    def test_bad_ids_are_422(self, catalog_api: httpx.Client, product_id: str) -> None:
        assert_error(catalog_api.get(f"/api/v1/products/{product_id}"), 422)

    def test_unknown_is_404(self, catalog_api: httpx.Client) -> None:
        assert_error(catalog_api.get(f"/api/v1/products/{uuid.uuid4()}"), 404)


class TestProductReadPaths:
    """A read of a canonical id is answered before FastAPI's routing
    (catalog_service/product_reads.py); the same id in capitals is not, and
    FastAPI's route answers it. Both must give the same answers."""

    @staticmethod
    def _answer(response: httpx.Response) -> tuple[Any, ...]:
        headers: dict[str, str | None] = {k: response.headers.get(k) for k in
                   ("content-type", "content-length", "etag", "cache-control", "www-authenticate")}  # fmt: skip
        body = response.json() if response.content else None
        if isinstance(body, dict):
            assert (
                body.pop("request_id", response.headers["x-request-id"])
                == response.headers["x-request-id"]
            )
        return response.status_code, tuple(headers.items()), json.dumps(body, sort_keys=True)

    def test_both_paths_answer_alike(self, catalog_api: httpx.Client, admin: Account) -> None:
        product = create_product(catalog_api, admin)
        canonical = f"/api/v1/products/{product['id']}"
        other = canonical.upper().replace("/API/V1/PRODUCTS/", "/api/v1/products/")
        first = catalog_api.get(canonical)
        tag = first.headers["etag"]
        cases: list[dict[str, Any]] = [
            {},
            {"headers": {"If-None-Match": tag}},
            {"headers": {"If-None-Match": '"other", W/' + tag}},
            {"headers": {"Authorization": "Bearer not.a.token"}},
            {"headers": {"Authorization": "Basic dXNlcjpwdw=="}},
            {"headers": admin.headers},
        ]
        for case in cases:
            answers = {self._answer(catalog_api.get(path, **case)) for path in (canonical, other)}  # type: ignore[arg-type]
            assert len(answers) == 1, (case, answers)
        unknown = uuid.uuid4()
        answers = {self._answer(catalog_api.get(f"/api/v1/products/{i}")) for i in
                   (str(unknown), str(unknown).upper())}  # fmt: skip
        assert [a[0] for a in answers] == [404]

    def test_a_read_before_routing_is_counted_under_its_route(
        self, catalog_api: httpx.Client, admin: Account
    ) -> None:
        def reads() -> float:
            return requests_counted(catalog_api, "/api/v1/products/{product_id}", "GET")

        product = create_product(catalog_api, admin)
        catalog_api.get(f"/api/v1/products/{product['id']}")  # now in the cache
        before = reads()
        for _ in range(3):
            assert catalog_api.get(f"/api/v1/products/{product['id']}").status_code == 200
        assert reads() - before == 3


class TestProductList:
    @pytest.fixture(scope="class")
    @classmethod
    def category(cls, catalog_api: httpx.Client, admin: Account) -> str:
        slug = ensure_category(catalog_api, admin, f"list-{uuid.uuid4().hex[:8]}")
        for n, price in enumerate(["5.00", "15.00", "25.00", "35.00", "45.00", "55.00", "65.00"]):
            create_product(catalog_api, admin, category=slug, price=price,
                           name=f"Zebra lamp number {n}",
                           description="a lamp shaped like a zebra, with stripes")  # fmt: skip
        return slug

    def test_filters(self, catalog_api: httpx.Client, category: str) -> None:
        page = catalog_api.get("/api/v1/products", params={
            "category": category, "min_price": "15", "max_price": "45", "sort": "price"}).json()  # fmt: skip
        assert [p["price"] for p in page["items"]] == ["15.00", "25.00", "35.00", "45.00"]
        assert page["next_cursor"] is None

    @pytest.mark.parametrize("sort", ["price", "-price", "name", "-created_at"])
    def test_keyset_pages_cover_everything_once(
        self, catalog_api: httpx.Client, category: str, sort: str
    ) -> None:
        seen: list[dict[str, str]] = []
        cursor = None
        while True:
            params = {"category": category, "sort": sort, "limit": 3,
                      **({"cursor": cursor} if cursor else {})}  # fmt: skip
            page = catalog_api.get("/api/v1/products", params=params)
            assert page.status_code == 200, page.text
            seen += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == 7
        assert len({p["id"] for p in seen}) == 7
        keys = {"price": lambda p: Decimal(p["price"]), "-price": lambda p: -Decimal(p["price"]),
                "name": lambda p: p["name"], "-created_at": lambda p: p["created_at"]}  # fmt: skip
        values = [keys[sort](p) for p in seen]
        if sort == "-created_at":
            assert values == sorted(values, reverse=True)
        else:
            assert values == sorted(values)

    def test_pages_are_stable_under_concurrent_inserts(
        self, catalog_api: httpx.Client, admin: Account, category: str
    ) -> None:
        first = catalog_api.get("/api/v1/products", params={
            "category": category, "sort": "price", "limit": 3}).json()  # fmt: skip
        create_product(catalog_api, admin, category=category, price="1.00")  # sorts first
        second = catalog_api.get("/api/v1/products", params={
            "category": category, "sort": "price", "limit": 3,
            "cursor": first["next_cursor"]}).json()  # fmt: skip
        first_ids = {p["id"] for p in first["items"]}
        assert not first_ids & {p["id"] for p in second["items"]}
        assert second["items"][0]["price"] == "35.00"

    def test_search_matches_name_and_description(
        self, catalog_api: httpx.Client, category: str
    ) -> None:
        both = catalog_api.get("/api/v1/products", params={"q": "zebra lamps",
                                                           "category": category}).json()  # fmt: skip
        assert len(both["items"]) == 7
        # "number" is in the names only, "stripes" in the descriptions only.
        for word, field, other in (("number", "name", "description"),
                                   ("stripes", "description", "name")):  # fmt: skip
            page = catalog_api.get("/api/v1/products", params={"q": word, "category": category})
            items = page.json()["items"]
            assert len(items) == 7, word
            assert all(word in p[field] and word not in p[other] for p in items), items
        none = catalog_api.get("/api/v1/products", params={"q": "giraffe", "category": category})
        assert none.json()["items"] == []

    # Each payload with the same words as a plain search (websearch syntax: `or`,
    # and words joined by punctuation, as '1'='1, are a phrase); None: no words.
    @pytest.mark.parametrize(
        ("q", "plain"),
        [("'; DROP TABLE products; --", "DROP TABLE products"),
         ("lamp' OR '1'='1", 'lamp or "1 1"'), ("\" OR 1=1 --", '"1 1"'), ("a & b | !c", "a b c"),
         ("zebra <-> lamp", "zebra lamp"), ("()):*", None), ("%", None), ("\\", None)],
    )  # fmt: skip
    def test_sql_text_in_q_is_only_text(
        self, catalog_api: httpx.Client, category: str, q: str, plain: str | None
    ) -> None:
        def found(text: str) -> list[str]:
            response = catalog_api.get("/api/v1/products", params={"q": text, "limit": 100})
            assert response.status_code == 200, response.text
            return [p["id"] for p in response.json()["items"]]

        assert found(q) == (found(plain) if plain else [])
        # The table is still there, rows and all.
        probe = catalog_api.get("/api/v1/products", params={"limit": 1})
        assert probe.status_code == 200, probe.text
        assert probe.json()["items"]
        assert catalog_api.get("/api/v1/categories").status_code == 200

    def test_ids(self, catalog_api: httpx.Client, admin: Account) -> None:
        products = [create_product(catalog_api, admin) for _ in range(3)]
        ids = ",".join([p["id"] for p in products] + [str(uuid.uuid4())])
        page = catalog_api.get("/api/v1/products", params={"ids": ids, "limit": 100}).json()
        assert {p["id"] for p in page["items"]} == {p["id"] for p in products}

    @pytest.mark.parametrize(
        "params",
        [
            {"ids": "not-a-uuid"},
            {"ids": ",".join(str(uuid.uuid4()) for _ in range(101))},
            {"limit": 0},
            {"limit": 101},
            {"sort": "price; DROP TABLE products"},
            {"min_price": "-1"},
            {"min_price": "abc"},
        ],
    )
    def test_bad_parameters_are_422(
        self, catalog_api: httpx.Client, params: dict[str, object]
    ) -> None:
        assert_error(catalog_api.get("/api/v1/products", params=params), 422)

    @pytest.mark.parametrize(
        "cursor",
        ["garbage", "%%%%", "e30", "WyJwcmljZSJd", "WyItY3JlYXRlZF9hdCIsIjEiLCIyIl0",
         "WyJwcmljZSIsIk5hTiIsIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd", "x" * 600],
    )  # fmt: skip
    def test_malformed_cursor_is_400_or_422_never_500(
        self, catalog_api: httpx.Client, cursor: str
    ) -> None:
        response = catalog_api.get("/api/v1/products", params={"cursor": cursor, "sort": "price"})
        assert response.status_code in (400, 422), response.text
        assert_error(response, response.status_code)


class TestLikes:
    def test_like_needs_a_user_and_a_product(
        self, catalog_api: httpx.Client, admin: Account, account: Account
    ) -> None:
        product = create_product(catalog_api, admin)
        assert_error(catalog_api.post(f"/api/v1/products/{product['id']}/like"), 401)
        assert_error(catalog_api.post(f"/api/v1/products/{uuid.uuid4()}/like",
                                      headers=account.headers), 404)  # fmt: skip
        liked = catalog_api.post(f"/api/v1/products/{product['id']}/like", headers=account.headers)
        assert liked.status_code == 204

    @pytest.mark.cross_process  # the worker counts the likes
    def test_ten_concurrent_likes(
        self, catalog_api: httpx.Client, activity_api: httpx.Client, admin: Account,
        user_api: httpx.Client, service_env: dict[str, str],
    ) -> None:  # fmt: skip
        from tests.utils.api import new_account

        product = create_product(catalog_api, admin)
        like = f"/api/v1/products/{product['id']}/like"
        people = [new_account(user_api) for _ in range(10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            # Ten different users at once, and one of them ten times at once.
            statuses = list(pool.map(lambda a: catalog_api.post(like, headers=a.headers).status_code,
                                     people))  # fmt: skip
            repeats = list(pool.map(lambda _: catalog_api.post(like, headers=people[0].headers).status_code,
                                    range(10)))  # fmt: skip
        assert statuses == [204] * 10
        assert repeats == [204] * 10
        stats_path = f"/api/v1/activity/products/{product['id']}/stats"
        stats = eventually(lambda: (s := activity_api.get(stats_path).json())["likes"] == 10 and s,
                           what="10 likes counted")  # fmt: skip
        assert stats["unique_users"] == 10
        # Still 10 once every task carrying the product's events has finished
        # (a repeat stored late would show only then), in the store as well.
        eventually(lambda: not tasks_in_flight(service_env, product["id"]), timeout=60,
                   what="every like's task finished")  # fmt: skip
        mongo: MongoClient[dict[str, Any]] = MongoClient(service_env["SANDBOX_MONGO_URL"],
                                                         serverSelectionTimeoutMS=5000)  # fmt: skip
        with mongo:
            events = mongo[service_env.get("SANDBOX_MONGO_DATABASE", "activity")]["events"]
            stored = events.count_documents({"object_id": product["id"], "type": "product.liked"})
        assert stored == 10
        assert activity_api.get(stats_path).json() == stats


def tasks_in_flight(env: dict[str, str], text: str) -> int:
    """Published tasks not yet finished whose arguments mention `text` (the
    ledger holds each task until it succeeds or fails for good)."""
    with redis.Redis.from_url(env["SANDBOX_BROKER_URL"]) as broker:
        return sum(text.encode() in entry for entry in broker.hvals(ledger.DATA))


class TestMethods:
    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [("OPTIONS", "/api/v1/products/{id}", "GET, PATCH, DELETE"),
         ("PUT", "/api/v1/products", "GET, POST"),
         ("DELETE", "/api/v1/categories", "GET, POST")],
    )  # fmt: skip
    def test_a_405_allows_every_method_of_the_path(
        self, catalog_api: httpx.Client, method: str, path: str, allow: str
    ) -> None:
        response = catalog_api.request(method, path.format(id=uuid.uuid4()))
        assert_error(response, 405)
        assert response.headers["allow"] == allow
