"""Fixtures shared by every test. Integration tests (tests/integration) talk to
the real servers of the local stack; `make test` starts it first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.api import Account, admin_account, new_account
from tests.utils.stack import stack_env

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return stack_env()


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10.0)


@pytest.fixture(scope="session")
def urls(env: dict[str, str]) -> dict[str, str]:
    found = {
        "user": env.get("SANDBOX_USER_URL", "http://127.0.0.1:8001"),
        "catalog": env.get("SANDBOX_CATALOG_URL", "http://127.0.0.1:8002"),
        "activity": env.get("SANDBOX_ACTIVITY_URL", "http://127.0.0.1:8003"),
    }
    for name, url in found.items():
        try:
            httpx.get(f"{url}/healthz", timeout=2).raise_for_status()
        except httpx.HTTPError:
            pytest.fail(f"the {name} service is not running at {url}; start it: make local-up")
    return found


@pytest.fixture(scope="session")
def user_api(urls: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(urls["user"]) as client:
        yield client


@pytest.fixture(scope="session")
def catalog_api(urls: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(urls["catalog"]) as client:
        yield client


@pytest.fixture(scope="session")
def activity_api(urls: dict[str, str]) -> Iterator[httpx.Client]:
    with _client(urls["activity"]) as client:
        yield client


@pytest.fixture(scope="session")
def admin(user_api: httpx.Client, env: dict[str, str]) -> Account:
    email, password = env.get("SANDBOX_ADMIN_EMAIL"), env.get("SANDBOX_ADMIN_PASSWORD")
    if not email or not password:
        pytest.fail("SANDBOX_ADMIN_EMAIL/PASSWORD unknown; is .local/stack.env there?")
    return admin_account(user_api, email, password)


@pytest.fixture
def account(user_api: httpx.Client) -> Account:
    return new_account(user_api)
