"""The fast tier: the three services' apps in the test process, built with
``create_app(settings)`` on PostgreSQL, Redis and MongoDB databases of their
own, and driven through ``httpx.ASGITransport``.

The apps run their lifespans on one event loop in a thread of their own (an
anyio blocking portal); each test gets a plain ``httpx.Client`` whose
transport hands the request to that loop. Catalog and activity read the user
service's JWKS, and activity the catalog's product names, from the apps in
this process, through the same transport: every request is a real ASGI
request to a real app. No worker runs: what needs one is a cross-process test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import httpx
import psycopg
from fastapi import FastAPI

from activity_service.catalog_client import CatalogNames
from activity_service.config import ActivitySettings
from activity_service.main import create_app as create_activity
from catalog_service.config import CatalogSettings
from catalog_service.main import create_app as create_catalog
from sandbox_common.auth import jwks_verifier
from sandbox_common.topology import SERVICES
from tests.utils.databases import own_datastores, plain_url
from user_service.config import UserSettings
from user_service.main import create_app as create_user

# Cache and broker: the stack uses Redis databases 0 and 1, the fuzzer 2 and 3.
REDIS_DBS = (4, 5)
# Where each app answers inside this process (the host names nothing real).
BASE_URLS = {service: f"http://{service}.inprocess" for service in SERVICES}
# The address the apps see as the client's.
CLIENT = ("127.0.0.1", 40000)


class PortalTransport(httpx.BaseTransport):
    """A synchronous transport that runs each request on the apps' loop."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, app: FastAPI) -> None:
        self._portal = portal
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=CLIENT)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._portal.call(self._handle, request)

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        request = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        response = await self._asgi.handle_async_request(request)
        content = await response.aread()
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def _settings_values(env: dict[str, str]) -> dict[str, Any]:
    """The stack's settings as keyword arguments: each variable by its field name."""
    return {
        k.removeprefix("SANDBOX_").lower(): v for k, v in env.items() if k.startswith("SANDBOX_")
    }


@dataclass
class InProcessApps:
    apps: dict[str, FastAPI]
    portal: anyio.from_thread.BlockingPortal
    # The stack's variables, with the apps' own databases in place of its.
    env: dict[str, str]

    def client(self, service: str, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=BASE_URLS[service],
                            transport=PortalTransport(self.portal, self.apps[service]),
                            **kwargs)  # fmt: skip


@contextmanager
def in_process_apps(env: dict[str, str]) -> Iterator[InProcessApps]:
    """The three apps, started, on databases created for this session and
    dropped afterwards."""
    with ExitStack() as stack:
        own = stack.enter_context(own_datastores(env, "inprocess", redis_dbs=REDIS_DBS))
        own |= {f"SANDBOX_{name.upper()}_URL": url for name, url in BASE_URLS.items()}
        values = _settings_values(own)
        activity = ActivitySettings(**values)
        apps = {
            "user": create_user(UserSettings(**values)),
            "catalog": create_catalog(CatalogSettings(**values)),
            "activity": create_activity(activity),
        }
        portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        for app in apps.values():
            stack.enter_context(portal.wrap_async_context_manager(app.router.lifespan_context(app)))
        wired = InProcessApps(apps, portal, own)
        _wire(wired, activity, stack)
        _await_admin(own)
        yield wired


def _await_admin(env: dict[str, str], timeout: float = 30.0) -> None:
    """The user app creates the first admin in the background as it starts:
    wait until the account is in its database, as the stack's start does.
    (Not by logging in: failed logins would throttle the account.)"""
    email = env.get("SANDBOX_ADMIN_EMAIL")
    if not email:
        return
    deadline = time.monotonic() + timeout
    with psycopg.connect(plain_url(env["SANDBOX_USER_DATABASE_URL"]), autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute("SELECT 1 FROM users WHERE email = %s", (email.lower(),))
            if found.fetchone():
                return
            time.sleep(0.2)
    raise RuntimeError(f"the in-process user app made no admin within {timeout:.0f}s")


def _wire(wired: InProcessApps, settings: ActivitySettings, stack: ExitStack) -> None:
    """Point the apps' calls to each other at the apps in this process."""

    def async_client(service: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=wired.apps[service], client=CLIENT)
        )
        stack.callback(wired.portal.call, client.aclose)
        return client

    verifier = jwks_verifier(
        settings, client=async_client("user")
    )  # settings.user_url is the app's
    for service in ("catalog", "activity"):
        wired.apps[service].state.token_verifier = verifier
    wired.apps["activity"].state.catalog_names = CatalogNames(
        async_client("catalog"), base_url=BASE_URLS["catalog"],
        timeout=settings.catalog_timeout_seconds,
    )  # fmt: skip
