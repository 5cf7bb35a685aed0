"""A service database of a test's own, migrated, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from sandbox_common.migrate import upgrade


def plain_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg itself takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def temporary_database(env: dict[str, str], service: str, name: str) -> Iterator[str]:
    """A new database ``name`` beside the service's own, at its migrations' head."""
    base = env[f"SANDBOX_{service.upper()}_DATABASE_URL"].rsplit("/", 1)[0]
    admin_url = plain_url(base) + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    upgrade(service, url)
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
