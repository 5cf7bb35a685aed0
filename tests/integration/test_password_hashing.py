"""Password hashing on real servers: no pooled connection is held while a
password is hashed (PostgreSQL), and a user service at its hashing bounds
sheds logins with 503 and Retry-After in the contract's body while every
request it accepted succeeds (a real server over HTTP)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher
from celery import Celery
from sqlalchemy.pool import QueuePool

from sandbox_common.db import create_async_db, session_factory
from tests.utils.api import eventually
from tests.utils.databases import temporary_database
from tests.utils.stack import free_port, stack_module
from user_service import repository, security, service
from user_service.hashing import HashingOverloaded, PasswordHashing
from user_service.schemas import UpdateMeRequest
from user_service.throttle import LoginThrottle

T = TypeVar("T")
PASSWORD = "a long enough password"


def _policy(env: dict[str, str]) -> service.TokenPolicy:
    """Tokens signed with the stack's key, for calling the service functions directly."""
    signer = security.TokenSigner.from_files(
        Path(env["SANDBOX_JWT_PRIVATE_KEY_FILE"]), previous_public_keys_file=None,
        issuer="test", audience="test", ttl_seconds=900,
    )  # fmt: skip
    return service.TokenPolicy(signer=signer, refresh_ttl=timedelta(hours=1))


class WatchedHashing(PasswordHashing):
    """The real bounded hashing, noting how many pooled connections are
    checked out each time a hash or check starts."""

    def __init__(self, pool: QueuePool) -> None:
        super().__init__(concurrency=1, max_waiting=4, max_wait_seconds=5)
        self.pool = pool
        self.seen: list[tuple[str, int]] = []

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        self.seen.append((function.__name__, self.pool.checkedout()))
        return await super()._run(function, *args)


@pytest.fixture
def users_db(env: dict[str, str]) -> Iterator[str]:
    with temporary_database(env, "user", "users_hashing_test") as url:
        yield url


def test_no_pooled_connection_is_held_while_hashing(env: dict[str, str], users_db: str) -> None:
    async def scenario() -> list[tuple[str, int]]:
        engine = create_async_db(users_db, database="users_hashing_test", pool_size=2)
        sessions = session_factory(engine)
        pool = engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        watched = WatchedHashing(pool)
        cache = aioredis.Redis.from_url(env["SANDBOX_REDIS_URL"])
        throttle = LoginThrottle(cache, max_per_account=5, max_per_client=50, window_seconds=60)
        celery = Celery("hashing-test", broker="memory://")
        email = f"hashing-{uuid.uuid4().hex[:8]}@example.com"
        policy = _policy(env)
        try:
            async with sessions() as session:
                assert await service.ensure_admin(session=session, hashing=watched,
                                                  email=f"admin-{email}", password=PASSWORD)  # fmt: skip
            async with sessions() as session:
                await service.register(session=session, celery=celery, hashing=watched,
                                       email=email, password=PASSWORD, display_name="Hash")  # fmt: skip
            async with sessions() as session:
                await service.login(session=session, throttle=throttle, policy=policy,
                                    hashing=watched, email=email, password=PASSWORD,
                                    client="203.0.113.9")  # fmt: skip
            async with sessions() as session:
                user = await repository.get_user_by_email(session, email=email)
                assert user is not None
                changes = UpdateMeRequest(password=PASSWORD + "!", current_password=PASSWORD)
                await service.update_me(
                    session=session, hashing=watched, user=user, changes=changes
                )
            async with sessions() as session:
                user = await repository.get_user_by_email(session, email=email)
                assert user is not None
                assert security.verify_password(user.password_hash, PASSWORD + "!")
        finally:
            await cache.aclose()
            await engine.dispose()
        return watched.seen

    seen = asyncio.run(scenario())
    assert [name for name, _ in seen] == [
        "hash_password",  # ensure_admin
        "hash_password",  # register
        "verify_password",  # login
        "verify_password",  # update_me: the current password
        "hash_password",  # update_me: the new one
    ]
    assert all(held == 0 for _, held in seen), f"connections held while hashing: {seen}"


class FullForNewHashes(PasswordHashing):
    """The real gate for checks; every new hash is shed, as at its bounds."""

    async def hash(self, password: str) -> str:
        raise HashingOverloaded(retry_after=1)


def test_a_login_stands_when_upgrading_its_hash_is_shed(env: dict[str, str], users_db: str) -> None:
    old_hash = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert security.needs_rehash(old_hash)

    async def scenario() -> tuple[str, str]:
        engine = create_async_db(users_db, database="users_rehash_test", pool_size=2)
        sessions = session_factory(engine)
        cache = aioredis.Redis.from_url(env["SANDBOX_REDIS_URL"])
        throttle = LoginThrottle(cache, max_per_account=5, max_per_client=50, window_seconds=60)
        policy = _policy(env)
        email = f"rehash-{uuid.uuid4().hex[:8]}@example.com"
        bounds = {"concurrency": 1, "max_waiting": 1, "max_wait_seconds": 5}

        async def login(hashing: PasswordHashing) -> str:
            async with sessions() as session:
                pair = await service.login(session=session, throttle=throttle, policy=policy,
                                           hashing=hashing, email=email, password=PASSWORD,
                                           client="203.0.113.10")  # fmt: skip
            assert pair.access_token
            async with sessions() as session:
                user = await repository.get_user_by_email(session, email=email)
                assert user is not None
                return user.password_hash

        try:
            async with sessions() as session:
                await service.ensure_admin(session=session, hashing=PasswordHashing(**bounds),
                                           email=email, password=PASSWORD)  # fmt: skip
                user = await repository.get_user_by_email(session, email=email)
                assert user is not None
                user.password_hash = old_hash
                await session.commit()
            kept = await login(FullForNewHashes(**bounds))
            upgraded = await login(PasswordHashing(**bounds))
        finally:
            await cache.aclose()
            await engine.dispose()
        return kept, upgraded

    kept, upgraded = asyncio.run(scenario())
    assert kept == old_hash, "the shed upgrade must leave the stored hash as it was"
    assert upgraded != old_hash
    assert not security.needs_rehash(upgraded)
    assert security.verify_password(upgraded, PASSWORD)


STORM = 16


def test_a_login_storm_beyond_the_bounds_is_shed_with_retry_after(
    env: dict[str, str], users_db: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "sandbox-serve"), "user"],
        env={
            **os.environ,
            **env,
            "SANDBOX_USER_DATABASE_URL": users_db,
            "SANDBOX_PORT": str(port),
            "SANDBOX_WEB_CONCURRENCY": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            # One hash at a time, one caller waiting, and hashes slow enough
            # (about ten times the default cost) that the storm overlaps them.
            "SANDBOX_PASSWORD_HASH_CONCURRENCY": "1",
            "SANDBOX_PASSWORD_HASH_MAX_WAITING": "1",
            "SANDBOX_PASSWORD_HASH_TIME_COST": "20",
        },
        stdout=(tmp_path / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(
            lambda: stack_module().http_ok(f"{base}/readyz"), timeout=60, what="user service"
        )
        with httpx.Client(base_url=base, timeout=30) as client:
            email = f"storm-{uuid.uuid4().hex[:8]}@example.com"
            created = client.post("/api/v1/auth/register",
                                  json={"email": email, "password": PASSWORD, "display_name": "Storm"})  # fmt: skip
            assert created.status_code == 201, created.text
            form = {"username": email, "password": PASSWORD}

            def login(_: int) -> httpx.Response:
                with httpx.Client(base_url=base, timeout=30) as own:
                    return own.post("/api/v1/auth/token", data=form)

            with ThreadPoolExecutor(STORM) as pool:
                answers = list(pool.map(login, range(STORM)))
            statuses = sorted(answer.status_code for answer in answers)
            # Some logins went through, the rest were shed, nothing else.
            assert set(statuses) == {200, 503}, statuses
            for answer in answers:
                if answer.status_code == 503:
                    body = answer.json()
                    assert set(body) == {"detail", "request_id"}, body
                    assert "try again" in body["detail"]
                    assert int(answer.headers["Retry-After"]) >= 1
                else:
                    assert answer.json()["token_type"] == "bearer"
            exposition = client.get("/metrics").text
            shed = sum(
                float(line.rsplit(" ", 1)[1])
                for line in exposition.splitlines()
                if line.startswith("sandbox_password_hashing_shed_total{")
            )
            assert shed == statuses.count(503), (shed, statuses)
            # Nothing stays held: after the storm, a login goes through.
            again = client.post("/api/v1/auth/token", data=form)
            assert again.status_code == 200, again.text
    finally:
        server.terminate()
        server.wait(timeout=30)
