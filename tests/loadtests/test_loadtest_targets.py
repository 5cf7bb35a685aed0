"""Where the load goes: a URL per service locally, one gateway in the cluster."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from sandbox_common.topology import SERVICE_PORTS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtests"))
targets = importlib.import_module("targets")


def test_local_defaults_are_the_three_service_ports():
    t = targets.resolve_targets(None, env={})
    assert (t.user, t.catalog, t.activity) == tuple(
        f"http://127.0.0.1:{SERVICE_PORTS[s]}" for s in ("user", "catalog", "activity")
    )
    assert not t.gateway


def test_service_urls_come_from_the_environment():
    env = {"SANDBOX_CATALOG_URL": "http://10.0.0.5:9000/"}
    t = targets.resolve_targets("", env=env)
    assert t.catalog == "http://10.0.0.5:9000"
    assert t.user == f"http://127.0.0.1:{SERVICE_PORTS['user']}"


def test_a_host_sends_everything_through_the_gateway():
    env = {"SANDBOX_CATALOG_URL": "http://10.0.0.5:9000"}
    t = targets.resolve_targets("http://localhost:8080/", env=env)
    assert t.user == t.catalog == t.activity == "http://localhost:8080"
    assert t.gateway


def test_admin_credentials_prefer_the_environment(tmp_path):
    file = tmp_path / "credentials.env"
    file.write_text("SANDBOX_ADMIN_EMAIL=file@example.com\nSANDBOX_ADMIN_PASSWORD=from-file-1234\n")
    env = {"SANDBOX_ADMIN_EMAIL": "env@example.com", "SANDBOX_ADMIN_PASSWORD": "from-env-12345"}
    assert targets.admin_credentials(env, file).email == "env@example.com"


def test_admin_credentials_fall_back_to_the_local_file(tmp_path):
    file = tmp_path / "credentials.env"
    file.write_text(
        "# generated\nSANDBOX_LOCAL_PG_PASSWORD=x\n"
        "SANDBOX_ADMIN_EMAIL=admin@sandbox.local\nSANDBOX_ADMIN_PASSWORD='a=b c'\n"
    )
    creds = targets.admin_credentials({}, file)
    assert (creds.email, creds.password) == ("admin@sandbox.local", "a=b c")


def test_no_admin_credentials_anywhere(tmp_path):
    assert targets.admin_credentials({}, tmp_path / "missing.env") is None


def test_pool_accounts_are_stable_and_valid():
    first, again = targets.pool_account(7, "pw"), targets.pool_account(7, "pw")
    assert first == again
    assert first.email == "lt-user-0007@loadtest.example.com"
    assert 8 <= len(first.password) <= 128
    assert targets.pool_account(8, "pw").password != first.password
