"""Small helpers that speak the contract, shared by the integration tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from user_service.config import UserSettings

T = TypeVar("T")
PASSWORD = "correct horse battery"


# An account a whole test session shares logs in again well before its access
# token expires (the suites take longer than a token lives).
RENEW_AFTER = UserSettings.model_fields["access_token_ttl_seconds"].default * 2 / 3


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str
    # Logs in again and gives a fresh access token (set for shared accounts).
    renew: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    issued: float = field(default_factory=time.monotonic, repr=False, compare=False)

    @property
    def headers(self) -> dict[str, str]:
        if self.renew is not None and time.monotonic() - self.issued > RENEW_AFTER:
            self.access_token, self.issued = self.renew(), time.monotonic()
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def register(user: httpx.Client, *, email: str | None = None, password: str = PASSWORD,
             display_name: str = "Test User", **headers: str) -> httpx.Response:  # fmt: skip
    return user.post(
        "/api/v1/auth/register",
        json={"email": email or unique_email(), "password": password,
              "display_name": display_name},
        headers=headers,
    )  # fmt: skip


def login(user: httpx.Client, email: str, password: str) -> httpx.Response:
    return user.post("/api/v1/auth/token", data={"username": email, "password": password})


def new_account(user: httpx.Client, **headers: str) -> Account:
    email = unique_email()
    created = register(user, email=email, **headers)
    assert created.status_code == 201, created.text
    tokens = login(user, email, PASSWORD)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return Account(created.json()["id"], email, PASSWORD, body["access_token"],
                   body["refresh_token"])  # fmt: skip


def admin_account(user: httpx.Client, email: str, password: str) -> Account:
    """Logs the admin in and checks the role the service gives it."""
    response = login(user, email, password)
    assert response.status_code == 200, response.text
    body = response.json()
    me = user.get("/api/v1/users/me",
                  headers={"Authorization": f"Bearer {body['access_token']}"}).json()  # fmt: skip
    assert me["role"] == "admin"

    def fresh_token() -> str:
        again = login(user, email, password)
        assert again.status_code == 200, again.text
        return str(again.json()["access_token"])

    return Account(me["id"], email, password, body["access_token"], body["refresh_token"],
                   renew=fresh_token)  # fmt: skip


def feed_event(activity: httpx.Client, reader: Account, user_id: str, type_: str,
               object_id: str) -> dict[str, Any] | None:  # fmt: skip
    """The event of this type and object in a user's feed (its newest 100), as
    `reader` (the user or an admin) sees it; None while it is not there."""
    items = activity.get(f"/api/v1/activity/users/{user_id}", headers=reader.headers,
                         params={"limit": 100}).json()["items"]  # fmt: skip
    return next((e for e in items if e["type"] == type_ and e["object_id"] == object_id), None)


# What an error body must never carry: a stack trace, SQL, a password hash, the
# name of a driver behind the service.
LEAKS = ("traceback", "$argon2", "select ", "insert into", "sqlalchemy", "psycopg", "pymongo")


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The contract's error body: detail + request_id, the same id as the header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "request_id"}, body
    assert body["request_id"] == response.headers["x-request-id"]
    text = response.text.lower()
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked in {response.text}"
    return body


def eventually(check: Callable[[], T | None], *, timeout: float = 20.0,
               interval: float = 0.25, what: str = "condition") -> T:  # fmt: skip
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")


def requests_counted(service: httpx.Client, route: str, method: str) -> float:
    """The service's own count of 2xx answers to ``method`` on ``route`` (its template)."""
    text = service.get("/metrics").text
    line = next(line for line in text.splitlines() if line.startswith(
        "sandbox_http_requests_total{") and f'route="{route}"' in line
        and f'method="{method}"' in line and 'status_class="2xx"' in line)  # fmt: skip
    return float(line.rsplit(" ", 1)[1])
