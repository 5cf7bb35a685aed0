"""A process whose code is newer than its database must not serve: /readyz
says so until the migration has run (the chart runs it in an init container,
before the process starts)."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from catalog_service.config import CatalogSettings
from catalog_service.main import create_app
from sandbox_common.migrate import upgrade
from tests.utils.databases import plain_url


def test_the_catalog_is_unready_until_its_schema_is_at_head(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = env["SANDBOX_CATALOG_DATABASE_URL"].rsplit("/", 1)[0]
    admin_url = plain_url(base) + "/postgres"
    name = "sandbox_schema_readiness"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    for key, value in env.items():
        if key.startswith("SANDBOX_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SANDBOX_CATALOG_DATABASE_URL", url)
    try:
        with TestClient(create_app(CatalogSettings(), observe=False)) as client:  # type: ignore[call-arg]
            behind = client.get("/readyz")
            assert behind.status_code == 503, behind.text
            assert behind.json()["checks"] == {"postgres": "ok", "schema": "failed"}

            upgrade("catalog", url)
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["schema"] == "ok"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
