"""Databases of a test's own on the stack's servers, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import psycopg
import pymongo
import redis

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


@contextmanager
def own_datastores(
    env: dict[str, str], name: str, *, redis_dbs: tuple[int, int]
) -> Iterator[dict[str, str]]:
    """Datastores of a copy of the services, on the stack's servers: PostgreSQL
    databases ``users_<name>`` and ``catalog_<name>`` at their migrations'
    head, MongoDB database ``activity_<name>``, and the two Redis databases
    (cache and throttle, broker), emptied. The stack's variables with these in
    place of its own; everything is dropped afterwards."""
    redis_base = env["SANDBOX_REDIS_URL"].rsplit("/", 1)[0]
    redis_urls = [f"{redis_base}/{db}" for db in redis_dbs]
    mongo_database = f"activity_{name}"

    def forget() -> None:
        with pymongo.MongoClient(env["SANDBOX_MONGO_URL"], serverSelectionTimeoutMS=5000) as mongo:
            mongo.drop_database(mongo_database)
        for url in redis_urls:
            with redis.Redis.from_url(url) as client:
                client.flushdb()

    with ExitStack() as stack:
        own = {
            "SANDBOX_USER_DATABASE_URL": stack.enter_context(
                temporary_database(env, "user", f"users_{name}")),
            "SANDBOX_CATALOG_DATABASE_URL": stack.enter_context(
                temporary_database(env, "catalog", f"catalog_{name}")),
            "SANDBOX_MONGO_DATABASE": mongo_database,
            "SANDBOX_REDIS_URL": redis_urls[0],
            "SANDBOX_BROKER_URL": redis_urls[1],
        }  # fmt: skip
        forget()
        stack.callback(forget)
        yield {**env, **own}
