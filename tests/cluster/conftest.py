"""The cluster tests: the chart installed on a real Kubernetes exactly as
`make up` installs it, then driven through the cluster's Services.

`make test-cluster` (deploy/scripts/test-cluster.sh) brings a cluster up, moves
the images in and runs these with SANDBOX_TEST_* set; without them they skip
(or fail, with SANDBOX_REQUIRE_CLUSTER=1)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.utils.api import Account, admin_account, eventually, login
from tests.utils.kube import Cluster

CLUSTER_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if CLUSTER_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    found = Cluster.from_environment()
    if found is None:
        message = (
            "no test cluster: run `make test-cluster` (kind when installed; "
            "as root on Linux, `make test-cluster CLUSTER=bare` builds a real one)"
        )
        if os.environ.get("SANDBOX_REQUIRE_CLUSTER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    yield found
    found.close()


@pytest.fixture(scope="session")
def installed(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    """The first install, as `make up` does it; every test after it shares the release."""
    result = cluster.install()
    assert result.returncode == 0, f"install failed:\n{result.stdout}\n{result.stderr}\n" + (
        cluster.ns("get", "pods,jobs,events", check=False)
    )
    return result


@pytest.fixture(scope="session")
def urls(cluster: Cluster, installed: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The services through their ClusterIPs (the root conftest's clients use these)."""
    return {name: cluster.service_url(name) for name in ("user", "catalog", "activity")}


@pytest.fixture(scope="session")
def admin(cluster: Cluster, user_api: httpx.Client) -> Account:
    """The first admin the chart's generated credentials name; it logs in again
    before its access token expires (the suite takes longer than one lives)."""
    secret = f"{cluster.release}-credentials"
    email = cluster.secret_value(secret, "admin-email")
    password = cluster.secret_value(secret, "admin-password")
    if login(user_api, email, password).status_code == 401:
        # On a first install the user service creates the admin in the
        # background once its tables exist: wait for that, not for a throttle.
        eventually(
            lambda: "first admin created" in cluster.ns(
                "logs", f"deploy/{cluster.release}-user", "--tail=-1", check=False
            ) or None,
            timeout=90, interval=2, what="the first admin",
        )  # fmt: skip
    return admin_account(user_api, email, password)
