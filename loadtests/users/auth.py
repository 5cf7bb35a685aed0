"""Logging in once, refreshing before the access token expires.

A login is attempted at most once per account and user: the user service
throttles an account after five failed logins, and a load test must never be
the reason a learner's account is locked. A refused account is remembered for
the whole process and never tried again.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from targets import Credentials

from users.base import Route, SandboxUser, describe

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "expires_in")

REFUSED_ACCOUNTS: set[str] = set()
# A request the service shed (503 with Retry-After) is sent again after the
# wait it asked for, as a well-behaved client does; the shed answer still
# counts as a failed request.
SHED_ATTEMPTS = 3


def shed_wait(resp: Any) -> float | None:
    """Seconds to wait before sending again, when the service shed the request."""
    if resp.status_code != 503:
        return None
    try:
        return min(10.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


class AuthenticatedUser(SandboxUser):
    abstract = True

    access_token: str | None = None
    refresh_token: str | None = None
    refresh_at: float = 0.0

    def login(self, account: Credentials) -> bool:
        if account.email in REFUSED_ACCOUNTS:
            return False
        for attempt in range(1, SHED_ATTEMPTS + 1):
            with self.client.post(
                self.user_url("/api/v1/auth/token"),
                data=urlencode({"username": account.email, "password": account.password}),
                headers=FORM,
                name=Route.TOKEN,
                catch_response=True,
            ) as resp:
                if resp.status_code == 200:
                    return self._take_tokens(resp, resp.json())
                if 400 <= resp.status_code < 500:
                    # Refused (wrong password, throttled, invalid): never again.
                    REFUSED_ACCOUNTS.add(account.email)
                resp.failure(f"{describe(resp)} (account {account.email})")
                wait = shed_wait(resp)
            if wait is None or attempt == SHED_ATTEMPTS:
                return False
            time.sleep(wait)  # gevent's sleep under Locust: other users go on
        return False

    def _take_tokens(self, resp: Any, body: Any) -> bool:
        if not isinstance(body, dict) or any(key not in body for key in TOKEN_FIELDS):
            resp.failure(
                "token response lacks access_token, refresh_token, token_type or expires_in"
            )
            return False
        if str(body["token_type"]).lower() != "bearer":
            resp.failure(f"token_type {body['token_type']!r}")
            return False
        lifetime = float(body["expires_in"])
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        # Refresh when a fifth of the lifetime (at most a minute) is left, or
        # sooner when asked to (short runs that should exercise refreshes).
        due = lifetime - min(60.0, lifetime / 5)
        sooner = float(getattr(self.environment.parsed_options, "refresh_after", 0) or 0)
        self.refresh_at = time.monotonic() + (min(due, sooner) if sooner > 0 else due)
        return True

    def refresh_if_due(self) -> None:
        if self.refresh_token is None or time.monotonic() < self.refresh_at:
            return
        with self.client.post(
            self.user_url("/api/v1/auth/refresh"),
            json={"refresh_token": self.refresh_token},
            name=Route.REFRESH,
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(describe(resp))
                self.access_token = self.refresh_token = None
                return
            self._take_tokens(resp, resp.json())

    def auth(self) -> dict[str, str]:
        self.refresh_if_due()
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
