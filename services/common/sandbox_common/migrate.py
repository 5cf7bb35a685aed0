"""``sandbox-migrate <service>``: Alembic ``upgrade head`` for a service's
database, under a PostgreSQL advisory lock so concurrent runs (every replica's
init container, the local stack) apply each migration once. And the readiness
check that keeps a process unready while its database is behind its code."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import MetaData, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

# Any constant works; it only has to be the same for every migrator.
ADVISORY_LOCK_KEY = 7_240_311

# The services with a PostgreSQL database: each has
# ``<service>_service.config:<Service>DatabaseSettings`` with ``<service>_database_url``.
DATABASE_SERVICES = ("user", "catalog")


def database_url(service: str) -> str:
    """The service's database URL, read by its own settings class."""
    config = importlib.import_module(f"{service}_service.config")
    settings = getattr(config, f"{service.capitalize()}DatabaseSettings")()
    url: str = getattr(settings, f"{service}_database_url")
    return url


def alembic_config(service: str, url: str) -> Config:
    package = importlib.import_module(f"{service}_service")
    assert package.__file__ is not None
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(package.__file__).parent / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str, *, wait_seconds: float = 0) -> None:
    """``alembic upgrade head``; with ``wait_seconds``, first waits (capped
    backoff) for a database that does not accept connections yet, as in a pod
    that starts beside its database."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.5
    while True:
        try:
            command.upgrade(alembic_config(service, url), "head")
            return
        except OperationalError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class SchemaBehind(RuntimeError):
    """The database has not been migrated to the revision this code needs."""


def head_revision(service: str) -> str:
    """The newest migration this code ships (one head: migrations are linear)."""
    head = ScriptDirectory.from_config(alembic_config(service, "")).get_current_head()
    assert head is not None, f"{service} has no migrations"
    return head


async def check_schema(engine: AsyncEngine, head: str) -> None:
    """Readiness: raises unless the database is at ``head``. A process whose
    code is newer than its schema must not serve; Kubernetes keeps the old pods
    until the migration has run."""
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        current = (
            await conn.scalar(text("SELECT version_num FROM alembic_version")) if exists else None
        )
    if current != head:
        raise SchemaBehind(f"schema at {current}, code needs {head}")


def run_migrations(target_metadata: MetaData) -> None:
    """Body of every service's ``alembic/env.py`` (online mode only)."""
    from alembic import context

    from sandbox_common.db import create_sync_db

    engine = create_sync_db(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            connection.commit()
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sandbox-migrate")
    parser.add_argument("service", choices=DATABASE_SERVICES)
    parser.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                        help="wait this long for the database to accept connections")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        url = database_url(args.service)
    except ValidationError:
        parser.error(f"SANDBOX_{args.service.upper()}_DATABASE_URL is not set")
    from sandbox_common.logging import configure_logging

    configure_logging(service=f"{args.service}-migrate")
    upgrade(args.service, url, wait_seconds=args.wait)


if __name__ == "__main__":
    main()
