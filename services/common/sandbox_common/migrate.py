"""``sandbox-migrate <service>``: Alembic ``upgrade head`` for a service's
database, under a PostgreSQL advisory lock so concurrent runs (two replicas,
a re-run hook Job) apply each migration once."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text

# Any constant works; it only has to be the same for every migrator.
ADVISORY_LOCK_KEY = 7_240_311

DATABASE_URL_ENV = {
    "user": "SANDBOX_USER_DATABASE_URL",
    "catalog": "SANDBOX_CATALOG_DATABASE_URL",
}


def alembic_config(service: str, url: str) -> Config:
    package = importlib.import_module(f"{service}_service")
    assert package.__file__ is not None
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(package.__file__).parent / "alembic"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str) -> None:
    command.upgrade(alembic_config(service, url), "head")


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
    parser.add_argument("service", choices=sorted(DATABASE_URL_ENV))
    args = parser.parse_args(argv)
    url = os.environ.get(DATABASE_URL_ENV[args.service])
    if not url:
        parser.error(f"{DATABASE_URL_ENV[args.service]} is not set")
    from sandbox_common.logging import configure_logging

    configure_logging(service=f"{args.service}-migrate")
    upgrade(args.service, url)


if __name__ == "__main__":
    main()
