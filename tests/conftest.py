"""Fixtures shared by every test. Integration tests (tests/integration) talk to
the real servers of the local stack; `make test` starts it first.

With ``--in-process`` (``make test-fast``) the service clients talk to the
three apps built in this process instead (tests/utils/inprocess.py), on the
stack's datastores, and the tests marked ``cross_process`` are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from sandbox_common.topology import SERVICES, local_url
from tests.utils.api import Account, admin_account, new_account
from tests.utils.stack import stack_env

if TYPE_CHECKING:
    from tests.utils.inprocess import InProcessApps

INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--in-process", action="store_true",
                     help="drive the services' apps in this process (the fast tier)")  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    in_process = config.getoption("--in-process")
    skip = pytest.mark.skip(reason="needs the stack's processes (not with --in-process)")
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
        if in_process and item.get_closest_marker("cross_process"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def env() -> dict[str, str]:
    return stack_env()


def _client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10.0)


@pytest.fixture(scope="session")
def in_process(
    request: pytest.FixtureRequest, env: dict[str, str]
) -> Iterator[InProcessApps | None]:
    """The apps in this process with --in-process, else None."""
    if not request.config.getoption("--in-process"):
        yield None
        return
    from tests.utils.inprocess import in_process_apps

    with in_process_apps(env) as apps:
        yield apps


@pytest.fixture(scope="session")
def service_env(env: dict[str, str], in_process: InProcessApps | None) -> dict[str, str]:
    """The settings the services under test run with: the stack's, or the
    in-process apps' (their own databases)."""
    return in_process.env if in_process is not None else env


@pytest.fixture(scope="session")
def urls(env: dict[str, str]) -> dict[str, str]:
    found = {
        service: env.get(f"SANDBOX_{service.upper()}_URL", local_url(service))
        for service in SERVICES
    }
    for name, url in found.items():
        try:
            httpx.get(f"{url}/healthz", timeout=2).raise_for_status()
        except httpx.HTTPError:
            pytest.fail(f"the {name} service is not running at {url}; start it: make local-up")
    return found


def _service_client(request: pytest.FixtureRequest, service: str) -> httpx.Client:
    apps: InProcessApps | None = request.getfixturevalue("in_process")
    if apps is not None:
        return apps.client(service, timeout=10.0)
    return _client(request.getfixturevalue("urls")[service])


@pytest.fixture(scope="session")
def user_api(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with _service_client(request, "user") as client:
        yield client


@pytest.fixture(scope="session")
def catalog_api(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with _service_client(request, "catalog") as client:
        yield client


@pytest.fixture(scope="session")
def activity_api(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    with _service_client(request, "activity") as client:
        yield client


@pytest.fixture(scope="session")
def apis(
    user_api: httpx.Client, catalog_api: httpx.Client, activity_api: httpx.Client
) -> dict[str, httpx.Client]:
    """The three service clients by service name."""
    return {"user": user_api, "catalog": catalog_api, "activity": activity_api}


@pytest.fixture(scope="session")
def admin(user_api: httpx.Client, env: dict[str, str]) -> Account:
    email, password = env.get("SANDBOX_ADMIN_EMAIL"), env.get("SANDBOX_ADMIN_PASSWORD")
    if not email or not password:
        pytest.fail("SANDBOX_ADMIN_EMAIL/PASSWORD unknown; is .local/stack.env there?")
    return admin_account(user_api, email, password)


@pytest.fixture
def account(user_api: httpx.Client) -> Account:
    return new_account(user_api)
