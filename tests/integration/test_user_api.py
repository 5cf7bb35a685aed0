"""Every row of the contract's user table, with its bad inputs, against the
running user service and its PostgreSQL and Redis."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest
import redis

from tests.utils.api import (
    PASSWORD,
    Account,
    assert_error,
    login,
    new_account,
    register,
    unique_email,
)
from tests.utils.stack import stack_module

USER_FIELDS = {"id", "email", "display_name", "role", "created_at"}


class TestRegister:
    def test_returns_the_user_object_without_secrets(self, user_api: httpx.Client) -> None:
        email = unique_email("Mixed.Case")
        response = register(user_api, email=email, display_name="  Ada  ")
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == USER_FIELDS
        assert body["email"] == email.lower()
        assert body["display_name"] == "Ada"
        assert body["role"] == "user"
        assert "$argon2" not in response.text

    def test_duplicate_email_in_another_case_is_409(self, user_api: httpx.Client) -> None:
        email = unique_email("dup")
        assert register(user_api, email=email).status_code == 201
        assert_error(register(user_api, email=email.upper()), 409)

    @pytest.mark.parametrize("password", ["", "short", "x" * 7, "x" * 129])
    def test_password_outside_8_to_128_is_422(self, user_api: httpx.Client, password: str) -> None:
        body = assert_error(register(user_api, password=password), 422)
        assert isinstance(body["detail"], list)
        assert body["detail"][0]["loc"] == ["body", "password"]
        assert "input" not in body["detail"][0]  # the password is never echoed back

    @pytest.mark.parametrize("password", ["x" * 8, "x" * 128])
    def test_password_at_the_limits_is_accepted(
        self, user_api: httpx.Client, password: str
    ) -> None:
        assert register(user_api, password=password).status_code == 201

    def test_role_cannot_be_set_at_registration(self, user_api: httpx.Client) -> None:
        email = unique_email("role")
        response = user_api.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Mallory", "role": "admin"},
        )
        body = assert_error(response, 422)
        assert body["detail"][0]["loc"] == ["body", "role"]
        # And nothing was created: the same email registers as a plain user.
        created = register(user_api, email=email)
        assert created.status_code == 201
        assert created.json()["role"] == "user"

    @pytest.mark.parametrize(
        "payload",
        [
            {"email": "not-an-email", "password": PASSWORD, "display_name": "x"},
            {"password": PASSWORD, "display_name": "x"},
            {"email": "a@example.com", "password": PASSWORD, "display_name": "   "},
            {"email": "a@example.com", "password": PASSWORD, "display_name": "x" * 101},
            {"email": "a@example.com", "password": PASSWORD, "display_name": "a\u0000b"},
            {"email": "a@host.test", "password": PASSWORD, "display_name": "x"},  # special-use
        ],
    )
    def test_invalid_fields_are_422(self, user_api: httpx.Client, payload: dict[str, str]) -> None:
        assert_error(user_api.post("/api/v1/auth/register", json=payload), 422)

    def test_malformed_json_is_422(self, user_api: httpx.Client) -> None:
        response = user_api.post(
            "/api/v1/auth/register",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert_error(response, 422)


class TestToken:
    def test_password_login_returns_a_bearer_pair(self, user_api: httpx.Client) -> None:
        email = unique_email()
        register(user_api, email=email)
        response = login(user_api, email.upper(), PASSWORD)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900

    def test_wrong_password_and_unknown_email_answer_the_same(self, user_api: httpx.Client) -> None:
        email = unique_email()
        register(user_api, email=email)
        wrong = login(user_api, email, "wrong password!")
        unknown = login(user_api, unique_email("nobody"), PASSWORD)
        for response in (wrong, unknown):
            assert_error(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
        assert wrong.json()["detail"] == unknown.json()["detail"]

    def test_missing_form_fields_are_422(self, user_api: httpx.Client) -> None:
        assert_error(user_api.post("/api/v1/auth/token", data={"username": "a@b.c"}), 422)

    @pytest.mark.parametrize(
        "form",
        [{"username": "a\u0000@example.com", "password": PASSWORD},  # PostgreSQL's text has no NUL
         {"username": "x" * 321, "password": PASSWORD},
         {"username": "a@example.com", "password": "x" * 129},
         {"username": "a@example.com", "password": PASSWORD, "grant_type": "client_credentials"}],
    )  # fmt: skip
    def test_credentials_no_account_can_have_are_422(
        self, user_api: httpx.Client, form: dict[str, str]
    ) -> None:
        assert_error(user_api.post("/api/v1/auth/token", data=form), 422)

    def test_json_credentials_are_told_to_use_a_form(self, user_api: httpx.Client) -> None:
        response = user_api.post(
            "/api/v1/auth/token", json={"username": unique_email(), "password": PASSWORD}
        )
        body = assert_error(response, 422)
        (error,) = body["detail"]
        assert "form" in error["msg"]
        assert "application/x-www-form-urlencoded" in error["msg"]

    def test_repeated_failures_are_throttled_with_retry_after(self, user_api: httpx.Client) -> None:
        email = unique_email("throttled")
        register(user_api, email=email)
        statuses = [login(user_api, email, "wrong password!").status_code for _ in range(5)]
        assert statuses == [401] * 5
        throttled = login(user_api, email, PASSWORD)  # even the right password now waits
        assert_error(throttled, 429)
        assert 1 <= int(throttled.headers["retry-after"]) <= 900
        # Another account from the same client is not locked out by this one.
        other = unique_email()
        register(user_api, email=other)
        assert login(user_api, other, PASSWORD).status_code == 200

    def test_the_throttle_uses_no_command_newer_than_redis_6(
        self, user_api: httpx.Client, service_env: dict[str, str]
    ) -> None:
        """EXPIRE ... NX needs Redis 7; on an older Redis the whole transaction
        failed and throttling silently switched itself off. What the service
        sends Redis for one failed login, read with MONITOR:"""
        email = unique_email("monitored")
        redis_client = redis.Redis.from_url(service_env["SANDBOX_REDIS_URL"], socket_timeout=20)
        seen: list[str] = []
        with redis_client.monitor() as monitor:
            failing = threading.Thread(target=login, args=(user_api, email, "wrong password!"))
            failing.start()
            while not any(c.startswith("INCR") and "login:fail:client" in c for c in seen):
                seen.append(monitor.next_command()["command"])
            failing.join()
        throttle = [c for c in seen if "login:fail" in c]
        assert throttle, seen
        assert not any(c.upper().startswith("EXPIRE") and " NX" in c.upper() for c in throttle)
        account_key = next(c.split()[1] for c in throttle if "login:fail:account" in c)
        assert 0 < redis_client.ttl(account_key) <= 900  # the window still ends

    @pytest.mark.cross_process  # the stack's command, on the stack's Redis
    def test_make_local_unlock_lifts_the_throttle(self, user_api: httpx.Client) -> None:
        email = unique_email("unlock")
        register(user_api, email=email)
        for _ in range(5):
            login(user_api, email, "wrong password!")
        assert login(user_api, email, PASSWORD).status_code == 429
        assert stack_module().unlock(email) == 0
        assert login(user_api, email, PASSWORD).status_code == 200


class TestRefreshAndLogout:
    def test_refresh_rotates_and_the_old_token_stops_working(
        self, user_api: httpx.Client, account: Account
    ) -> None:
        first = user_api.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert first.status_code == 200, first.text
        pair = first.json()
        assert pair["refresh_token"] != account.refresh_token
        me = user_api.get("/api/v1/users/me",
                          headers={"Authorization": f"Bearer {pair['access_token']}"})  # fmt: skip
        assert me.status_code == 200
        # The old one no longer refreshes (that this reuse also revokes the new
        # one is the next test's).
        again = user_api.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert_error(again, 401)

    def test_reusing_a_rotated_token_revokes_the_family(
        self, user_api: httpx.Client, account: Account
    ) -> None:
        rotated = user_api.post("/api/v1/auth/refresh",
                                json={"refresh_token": account.refresh_token}).json()  # fmt: skip
        reuse = user_api.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert_error(reuse, 401)
        # The thief's copy is dead, and so is the legitimate newer token of the family.
        newer = user_api.post("/api/v1/auth/refresh",
                              json={"refresh_token": rotated["refresh_token"]})  # fmt: skip
        assert_error(newer, 401)
        # Another login (another family) is unaffected.
        fresh = login(user_api, account.email, account.password).json()
        assert user_api.post("/api/v1/auth/refresh",
                             json={"refresh_token": fresh["refresh_token"]}).status_code == 200  # fmt: skip

    @pytest.mark.parametrize("token", ["", "garbage", "x" * 300])
    def test_bad_refresh_tokens(self, user_api: httpx.Client, token: str) -> None:
        response = user_api.post("/api/v1/auth/refresh", json={"refresh_token": token})
        assert response.status_code in (401, 422)
        assert_error(response, response.status_code)

    def test_logout_ends_the_family(self, user_api: httpx.Client, account: Account) -> None:
        response = user_api.post(
            "/api/v1/auth/logout", json={"refresh_token": account.refresh_token}
        )
        assert response.status_code == 204
        assert response.content == b""
        again = user_api.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert_error(again, 401)

    def test_logout_with_an_unknown_token_is_still_204(self, user_api: httpx.Client) -> None:
        response = user_api.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"})
        assert response.status_code == 204


class TestJwks:
    def test_publishes_the_ed25519_verification_key(self, user_api: httpx.Client) -> None:
        response = user_api.get("/.well-known/jwks.json")
        assert response.status_code == 200
        keys = response.json()["keys"]
        assert keys
        for key in keys:
            assert key["kty"] == "OKP"
            assert key["crv"] == "Ed25519"
            assert key["alg"] == "EdDSA"
            assert key["kid"]
            assert "d" not in key  # never the private part


class TestMe:
    def test_read(self, user_api: httpx.Client, account: Account) -> None:
        response = user_api.get("/api/v1/users/me", headers=account.headers)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == USER_FIELDS
        assert body["id"] == account.id

    def test_without_a_token_is_401(self, user_api: httpx.Client) -> None:
        response = user_api.get("/api/v1/users/me")
        assert_error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"

    def test_update_display_name(self, user_api: httpx.Client, account: Account) -> None:
        response = user_api.patch("/api/v1/users/me", headers=account.headers,
                                  json={"display_name": "Renamed"})  # fmt: skip
        assert response.status_code == 200
        assert response.json()["display_name"] == "Renamed"

    def test_change_password_needs_the_current_one(
        self, user_api: httpx.Client, account: Account
    ) -> None:
        missing = user_api.patch("/api/v1/users/me", headers=account.headers,
                                 json={"password": "a brand new password"})  # fmt: skip
        assert_error(missing, 422)
        wrong = user_api.patch("/api/v1/users/me", headers=account.headers,
                               json={"password": "a brand new password",
                                     "current_password": "not it at all"})  # fmt: skip
        assert_error(wrong, 403)
        ok = user_api.patch("/api/v1/users/me", headers=account.headers,
                            json={"password": "a brand new password",
                                  "current_password": account.password})  # fmt: skip
        assert ok.status_code == 200
        assert login(user_api, account.email, "a brand new password").status_code == 200
        assert login(user_api, account.email, account.password).status_code == 401
        # The sessions from before the change are over.
        refresh = user_api.post("/api/v1/auth/refresh",
                                json={"refresh_token": account.refresh_token})  # fmt: skip
        assert_error(refresh, 401)

    @pytest.mark.parametrize(
        "payload",
        [{"password": "short", "current_password": PASSWORD}, {"role": "admin"},
         {"password": "a brand new password"}, {"password": None},
         {"password": "a brand new password", "current_password": None}],
    )  # fmt: skip
    def test_bad_updates_are_422(
        self, user_api: httpx.Client, account: Account, payload: dict[str, str]
    ) -> None:
        assert_error(user_api.patch("/api/v1/users/me", headers=account.headers, json=payload), 422)

    def test_delete_is_202_and_the_account_stops_working(
        self, user_api: httpx.Client, account: Account
    ) -> None:
        response = user_api.delete("/api/v1/users/me", headers=account.headers)
        assert response.status_code == 202
        assert_error(user_api.get("/api/v1/users/me", headers=account.headers), 401)
        assert_error(login(user_api, account.email, account.password), 401)
        refresh = user_api.post("/api/v1/auth/refresh",
                                json={"refresh_token": account.refresh_token})  # fmt: skip
        assert_error(refresh, 401)


class TestAdmin:
    def test_list_users_pages_with_a_cursor(self, user_api: httpx.Client, admin: Account) -> None:
        for _ in range(3):
            new_account(user_api)
        seen: list[str] = []
        cursor = None
        for _ in range(200):
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = user_api.get("/api/v1/users", headers=admin.headers, params=params)
            assert page.status_code == 200, page.text
            body = page.json()
            assert len(body["items"]) <= 2
            seen += [u["id"] for u in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), "a user appeared on two pages"
        assert admin.id in seen

    def test_list_users_is_admin_only(self, user_api: httpx.Client, account: Account) -> None:
        assert_error(user_api.get("/api/v1/users", headers=account.headers), 403)
        assert_error(user_api.get("/api/v1/users"), 401)

    # Not a cursor's shape (base64url) is 422; of its shape but not issued here, 400.
    @pytest.mark.parametrize(
        ("cursor", "status"),
        [("%%%", 422), ("bm90IGpzb24", 400), ("W10", 400), ("WyJ4IiwieSJd", 400)],
    )
    def test_bad_cursor(
        self, user_api: httpx.Client, admin: Account, cursor: str, status: int
    ) -> None:
        response = user_api.get("/api/v1/users", headers=admin.headers, params={"cursor": cursor})
        assert_error(response, status)

    @pytest.mark.parametrize("limit", [0, 101, "x"])
    def test_bad_limit_is_422(self, user_api: httpx.Client, admin: Account, limit: object) -> None:
        response = user_api.get("/api/v1/users", headers=admin.headers, params={"limit": limit})
        assert_error(response, 422)

    def test_set_role(self, user_api: httpx.Client, admin: Account, account: Account) -> None:
        response = user_api.patch(f"/api/v1/users/{account.id}", headers=admin.headers,
                                  json={"role": "admin"})  # fmt: skip
        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        # The new role is in the next token.
        token = login(user_api, account.email, account.password).json()["access_token"]
        listed = user_api.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert listed.status_code == 200

    def test_set_role_rejects_bad_input(
        self, user_api: httpx.Client, admin: Account, account: Account
    ) -> None:
        assert_error(user_api.patch(f"/api/v1/users/{account.id}", headers=admin.headers,
                                    json={"role": "root"}), 422)  # fmt: skip
        assert_error(user_api.patch("/api/v1/users/not-a-uuid", headers=admin.headers,
                                    json={"role": "user"}), 422)  # fmt: skip
        assert_error(user_api.patch(f"/api/v1/users/{uuid.uuid4()}", headers=admin.headers,
                                    json={"role": "user"}), 404)  # fmt: skip
        assert_error(user_api.patch(f"/api/v1/users/{account.id}", headers=account.headers,
                                    json={"role": "admin"}), 403)  # fmt: skip


class TestRequestIds:
    def test_a_valid_request_id_is_kept(self, user_api: httpx.Client) -> None:
        response = user_api.get("/healthz", headers={"X-Request-ID": "client-chosen-id-42"})
        assert response.headers["x-request-id"] == "client-chosen-id-42"

    # (No newline case: httpx itself refuses to send one in a header.)
    @pytest.mark.parametrize("bad", ["short", "has spaces in it", "x" * 200, "back\\slash"])
    def test_an_invalid_request_id_is_replaced(self, user_api: httpx.Client, bad: str) -> None:
        response = user_api.get("/healthz", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32

    def test_unknown_route_is_a_contract_404(self, user_api: httpx.Client) -> None:
        assert_error(user_api.get("/api/v1/nope"), 404)


@pytest.mark.parametrize("service", ["user", "catalog", "activity"])
def test_health_endpoints(apis: dict[str, httpx.Client], service: str) -> None:
    api = apis[service]
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]
    assert all(v == "ok" for v in body["checks"].values())
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    assert "sandbox_http_requests_total" in metrics.text
    assert api.get("/openapi.json").status_code == 200
